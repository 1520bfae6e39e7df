// SPDX-License-Identifier: GPL-2.0
/* The host kernel's types a BPF object relocates, cut down and cached (hostbtf.h). */
#include <bpf/btf.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hostbtf.h"
#include "util.h"

#define MEMBERS_MAX 256 /* of one struct, as the object declares them */
#define PREFIX "core-"

struct projection {
	const struct btf *local, *kern;
	struct btf *out;
	int *made;	/* kernel type id -> its composite in out (0: not yet) */
	int void_ptr;	/* in out, made on first use; 0: not yet */
	int index_type; /* arrays' index type in out */
};

struct out_member {
	const char *name;
	int type;
	uint32_t bit_off, bit_size;
};

static int map_type(struct projection *p, uint32_t local_id, uint32_t kern_id);

/*
 * @name among @kern_id's members, also inside its anonymous structs and
 * unions (as C reaches them); its type, bit offset from @base and bitfield
 * size. 0 or -ENOENT.
 */
static int find_member(const struct btf *kern, uint32_t kern_id, const char *name, uint32_t base,
		       uint32_t *type, uint32_t *bit_off, uint32_t *bit_size)
{
	const struct btf_type *t = btf__type_by_id(kern, kern_id);
	const struct btf_member *m = btf_members(t);

	for (unsigned i = 0; i < btf_vlen(t); i++, m++) {
		const char *mname = btf__name_by_offset(kern, m->name_off);
		uint32_t off = base + btf_member_bit_offset(t, i);

		if (mname && *mname) {
			if (strcmp(mname, name))
				continue;
			*type = m->type;
			*bit_off = off;
			*bit_size = btf_member_bitfield_size(t, i);
			return 0;
		}
		int anon = btf__resolve_type(kern, m->type);
		const struct btf_type *at = anon > 0 ? btf__type_by_id(kern, (uint32_t)anon) : NULL;

		if (at && (btf_is_struct(at) || btf_is_union(at)) &&
		    !find_member(kern, (uint32_t)anon, name, off, type, bit_off, bit_size))
			return 0;
	}
	return -ENOENT;
}

static int cmp_bit_off(const void *a, const void *b)
{
	const struct out_member *x = a, *y = b;

	return x->bit_off < y->bit_off ? -1 : x->bit_off > y->bit_off;
}

/* The kernel's composite @kern_id, with the members the local @local_id declares. */
static int make_composite(struct projection *p, uint32_t local_id, uint32_t kern_id)
{
	const struct btf_type *lt = btf__type_by_id(p->local, local_id);
	const struct btf_type *kt = btf__type_by_id(p->kern, kern_id);
	const struct btf_member *lm = btf_members(lt);
	struct out_member mem[MEMBERS_MAX];
	unsigned n = 0;
	int id;

	if (p->made[kern_id])
		return p->made[kern_id];
	for (unsigned i = 0; i < btf_vlen(lt) && n < MEMBERS_MAX; i++, lm++) {
		const char *name = btf__name_by_offset(p->local, lm->name_off);
		uint32_t type, bit_off, bit_size;

		if (!name || !*name ||
		    find_member(p->kern, kern_id, name, 0, &type, &bit_off, &bit_size))
			continue; /* libbpf will say the kernel lacks it, if it is used */
		id = map_type(p, lm->type, type);
		if (id < 0)
			continue;
		mem[n++] = (struct out_member){ name, id, bit_off, bit_size };
	}
	qsort(mem, n, sizeof(mem[0]), cmp_bit_off);
	id = btf_is_union(kt)
		 ? btf__add_union(p->out, btf__name_by_offset(p->kern, kt->name_off), kt->size)
		 : btf__add_struct(p->out, btf__name_by_offset(p->kern, kt->name_off), kt->size);
	for (unsigned i = 0; id > 0 && i < n; i++)
		if (btf__add_field(p->out, mem[i].name, mem[i].type, mem[i].bit_off,
				   mem[i].bit_size))
			return -EINVAL;
	if (id > 0)
		p->made[kern_id] = id;
	return id;
}

/*
 * A member's type in out: the local declaration's shape (what CO-RE checks
 * it against), the kernel's sizes and counts. Pointers become void *: CO-RE
 * relocates each access by its own root type, never through a pointee.
 */
static int map_type(struct projection *p, uint32_t local_id, uint32_t kern_id)
{
	int l = btf__resolve_type(p->local, local_id), k = btf__resolve_type(p->kern, kern_id);
	const struct btf_type *lt, *kt;

	if (l <= 0 || k <= 0)
		return -EINVAL;
	lt = btf__type_by_id(p->local, (uint32_t)l);
	kt = btf__type_by_id(p->kern, (uint32_t)k);
	if (btf_is_ptr(lt) && btf_is_ptr(kt)) {
		if (!p->void_ptr)
			p->void_ptr = btf__add_ptr(p->out, 0);
		return p->void_ptr;
	}
	if ((btf_is_int(lt) || btf_is_enum(lt)) && btf_is_int(kt))
		return btf__add_int(p->out, btf__name_by_offset(p->kern, kt->name_off),
				    (size_t)kt->size, btf_int_encoding(kt));
	if ((btf_is_int(lt) || btf_is_enum(lt)) && (btf_is_enum(kt) || btf_is_enum64(kt)))
		return btf__add_int(p->out, "int", (size_t)kt->size, BTF_INT_SIGNED);
	if (btf_is_array(lt) && btf_is_array(kt)) {
		int elem = map_type(p, btf_array(lt)->type, btf_array(kt)->type);

		return elem < 0
			   ? elem
			   : btf__add_array(p->out, p->index_type, elem, btf_array(kt)->nelems);
	}
	if ((btf_is_struct(lt) || btf_is_union(lt)) && (btf_is_struct(kt) || btf_is_union(kt)))
		return make_composite(p, (uint32_t)l, (uint32_t)k);
	return -EINVAL;
}

struct btf *hostbtf__project(const struct btf *local, const struct btf *kernel)
{
	struct projection p = { .local = local, .kern = kernel };
	unsigned nlocal = btf__type_cnt(local);

	p.out = btf__new_empty();
	p.made = calloc(btf__type_cnt(kernel), sizeof(*p.made));
	if (!p.out || !p.made)
		goto fail;
	p.index_type = btf__add_int(p.out, "unsigned int", 4, 0);
	if (p.index_type < 0)
		goto fail;
	for (unsigned i = 1; i < nlocal; i++) {
		const struct btf_type *t = btf__type_by_id(local, i);
		const char *name = btf__name_by_offset(local, t->name_off);
		int k;

		if (!(btf_is_struct(t) || btf_is_union(t)) || !name || !*name)
			continue;
		k = btf__find_by_name_kind(kernel, name, btf_kind(t));
		if (k > 0 && make_composite(&p, i, (uint32_t)k) < 0)
			goto fail;
	}
	free(p.made);
	return p.out;
fail:
	free(p.made);
	btf__free(p.out);
	errno = EINVAL;
	return NULL;
}

/*
 * This boot, the module's BTF (@mod_path, NULL for none) and the object:
 * what the cut-down BTF depends on.
 */
static int cache_key(const void *obj, size_t obj_len, const char *mod_path, uint64_t *key)
{
	char boot_id[64] = "";
	uint64_t mod = 0;
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");

	if (!f)
		return -errno;
	if (!fgets(boot_id, sizeof(boot_id), f)) {
		fclose(f);
		return -EIO;
	}
	fclose(f);
	if (mod_path && util__hash_file(mod_path, &mod))
		mod = 0; /* built in (or not loaded): its types are vmlinux's */
	*key = util__fnv1a(UTIL_FNV1A_INIT, boot_id, strlen(boot_id));
	*key = util__fnv1a(*key, &mod, sizeof(mod));
	*key = util__fnv1a(*key, obj, obj_len);
	return 0;
}

static int cache_path(uint64_t key, char *path, size_t len, bool make)
{
	char dir[4096];
	int err = util__cache_dir(dir, sizeof(dir) - 8);

	if (err)
		return err;
	strcat(dir, "/host");
	if (make && mkdir(dir, 0755) && errno != EEXIST)
		return -errno;
	if ((size_t)snprintf(path, len, "%s/" PREFIX "%016" PRIx64 ".btf", dir, key) >= len)
		return -ENAMETOOLONG;
	return 0;
}

/* Every other key's entry in @path's directory goes: they can never match again. */
static void remove_others(const char *path)
{
	char dir[4096], *slash;
	struct dirent *e;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash)
		return;
	*slash = '\0';
	d = opendir(dir);
	while (d && (e = readdir(d))) {
		char other[4096 + 256];

		if (strncmp(e->d_name, PREFIX, strlen(PREFIX)) || !strcmp(e->d_name, slash + 1))
			continue;
		snprintf(other, sizeof(other), "%s/%s", dir, e->d_name);
		unlink(other);
	}
	if (d)
		closedir(d);
}

/* @data into the cache at @path (renamed into place), else into a memfd @path then names. */
static int store(const void *data, size_t size, char *path, size_t len, bool have_path)
{
	char tmp[4096 + 32];
	int fd, err;

	if (have_path) {
		snprintf(tmp, sizeof(tmp), "%s.%d.tmp", path, (int)getpid());
		fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd >= 0) {
			err = util__pwrite_all(fd, data, size, 0);
			if (close(fd) && !err)
				err = -errno;
			if (!err && !rename(tmp, path)) {
				remove_others(path);
				return 0;
			}
			unlink(tmp);
		}
		pr_debug("hostbtf: cannot store %s: %s; using a temporary copy", path,
			 strerror(errno));
	}
	fd = memfd_create("vmsh-hostbtf", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	err = util__pwrite_all(fd, data, size, 0);
	if (err) {
		close(fd);
		return err;
	}
	snprintf(path, len, "/proc/self/fd/%d", fd);
	return 0;
}

int hostbtf__get(const void *obj_bytes, size_t obj_len, const char *module, const struct btf *local,
		 char *path, size_t len)
{
	struct btf *vmlinux = NULL, *mod = NULL, *cut = NULL;
	char mod_path[256];
	const void *data;
	uint32_t size;
	uint64_t key = 0;
	bool have_path;
	int err;

	snprintf(mod_path, sizeof(mod_path), "/sys/kernel/btf/%s", module ? module : "");
	err = cache_key(obj_bytes, obj_len, module ? mod_path : NULL, &key);
	if (err)
		return err;
	have_path = !cache_path(key, path, len, local != NULL);
	if (have_path && !access(path, R_OK)) {
		pr_debug("hostbtf: the kernel's types from %s", path);
		return 0;
	}
	if (!local)
		return -ENOENT;
	vmlinux = btf__load_vmlinux_btf();
	if (!vmlinux)
		return -errno;
	if (module && !access(mod_path, R_OK)) {
		mod = btf__load_module_btf(module, vmlinux);
		if (!mod) {
			err = -errno;
			goto out;
		}
	}
	cut = hostbtf__project(local, mod ? mod : vmlinux);
	if (!cut) {
		err = -errno;
		goto out;
	}
	data = btf__raw_data(cut, &size);
	err = data ? store(data, size, path, len, have_path) : -ENOMEM;
	if (!err)
		pr_debug("hostbtf: %u bytes of the kernel's types into %s", size, path);
out:
	btf__free(cut);
	btf__free(mod);
	btf__free(vmlinux);
	return err;
}

void hostbtf__put(const char *path, bool failed)
{
	int fd;

	if (sscanf(path, "/proc/self/fd/%d", &fd) == 1)
		close(fd);
	else if (failed && path[0])
		unlink(path);
}
