// SPDX-License-Identifier: GPL-2.0
/* The kernel cache (kcache.h): one text file per kernel placement. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "kcache.h"
#include "util.h"

#define KCACHE_MAGIC "vmsh-kcache 1"
#define KCACHE_MAX_SYMS 262144 /* as the scan's KSYM_MAX */
#define KCACHE_NAME_MAX 256

/* The entry's path; its directory, kernels/, made when @make (a store). */
static int entry_path(const struct guest_kernel *k, char *path, size_t len, bool make)
{
	char dir[4096];
	int err = util__cache_dir(dir, sizeof(dir) - 16);

	if (err)
		return err;
	strcat(dir, "/kernels");
	if (make && mkdir(dir, 0755) && errno != EEXIST)
		return -errno;
	if ((size_t)snprintf(path, len, "%s/%016" PRIx64 "-%016" PRIx64, dir, k->pbase, k->vbase) >=
	    len)
		return -ENAMETOOLONG;
	return 0;
}

int kcache__path(const struct guest_kernel *k, char *path, size_t len)
{
	return entry_path(k, path, len, false);
}

/* FNV-1a over the export table as the guest has it now. */
static int ksymtab_hash(const struct guest_mem *m, const struct guest_mmu *mmu,
			enum ksymtab_layout layout, uint64_t va, size_t n, uint64_t *h)
{
	size_t len = n * guest__ksymtab_entry_size(layout);
	uint8_t *buf;
	int err;

	if (!n || n > KCACHE_MAX_SYMS)
		return -EINVAL;
	buf = malloc(len);
	if (!buf)
		return -ENOMEM;
	err = guest__read_virt(m, mmu, va, buf, len);
	*h = util__fnv1a(UTIL_FNV1A_INIT, buf, err ? 0 : len);
	free(buf);
	return err;
}

/* The banner as the guest has it now at @va: "<banner>\n\0". */
static bool banner_matches(const struct guest_mem *m, const struct guest_mmu *mmu, uint64_t va,
			   const char *banner)
{
	size_t n = strlen(banner);
	char buf[sizeof(((struct guest_kernel *)0)->banner) + 2];

	if (!n || n + 2 > sizeof(buf) || guest__read_virt(m, mmu, va, buf, n + 2))
		return false;
	return !memcmp(buf, banner, n) && buf[n] == '\n' && buf[n + 1] == '\0';
}

int kcache__store(const struct guest_mem *m, const struct guest_mmu *mmu,
		  const struct guest_kernel *k, const struct guest_layout *l)
{
	char path[4096], tmp[4200];
	uint64_t h;
	FILE *f;
	int err = entry_path(k, path, sizeof(path), true);

	if (err)
		return err;
	err = ksymtab_hash(m, mmu, k->layout, k->ksymtab_va, k->nsyms, &h);
	if (err)
		return err;
	snprintf(tmp, sizeof(tmp), "%s.%d", path, (int)getpid());
	f = fopen(tmp, "w");
	if (!f)
		return -errno;
	fprintf(f, "%s\nbanner_va %" PRIx64 "\nbanner %s\n", KCACHE_MAGIC, k->banner_va, k->banner);
	fprintf(f, "ksymtab %d %" PRIx64 " %zu %" PRIx64 "\n", (int)k->layout, k->ksymtab_va,
		k->nsyms, h);
	fprintf(f, "layout %u %u %u %u %u %u %u %u %u %u %" PRIx64 "\n", l->work_size, l->work_data,
		l->work_entry, l->work_func, l->res_size, l->res_start, l->res_end, l->res_name,
		l->res_flags, l->res_desc, l->work_data_init);
	fprintf(f, "work_src %s\nres_src %s\nwork_data_init_src %s\n", l->work_src, l->res_src,
		l->work_data_init_src);
	for (size_t i = 0; i < k->nsyms; i++)
		fprintf(f, "sym %" PRIx64 " %s\n", k->syms[i].addr, k->syms[i].name);
	if (ferror(f) | fclose(f) || rename(tmp, path)) {
		err = -errno;
		unlink(tmp);
		return err ? err : -EIO;
	}
	return 0;
}

/* "key rest-of-line" into @out (newline dropped); false if the key differs */
static bool line_of(FILE *f, const char *key, char *out, size_t len)
{
	char line[KCACHE_NAME_MAX + 600];
	size_t klen = strlen(key);

	if (!fgets(line, sizeof(line), f) || strncmp(line, key, klen) || line[klen] != ' ')
		return false;
	line[strcspn(line, "\n")] = '\0';
	if (strlen(line + klen + 1) >= len)
		return false;
	strcpy(out, line + klen + 1);
	return true;
}

static int read_entry(FILE *f, struct guest_kernel *k, struct guest_layout *l, uint64_t *hash)
{
	char v[KCACHE_NAME_MAX + 600], magic[32];
	int layout;

	if (!fgets(magic, sizeof(magic), f) || strcmp(magic, KCACHE_MAGIC "\n") ||
	    !line_of(f, "banner_va", v, sizeof(v)) || sscanf(v, "%" SCNx64, &k->banner_va) != 1 ||
	    !line_of(f, "banner", k->banner, sizeof(k->banner)) ||
	    !line_of(f, "ksymtab", v, sizeof(v)) ||
	    sscanf(v, "%d %" SCNx64 " %zu %" SCNx64, &layout, &k->ksymtab_va, &k->nsyms, hash) !=
		4 ||
	    layout < KSYMTAB_PREL32_NS || layout > KSYMTAB_ABS64 || !k->nsyms ||
	    k->nsyms > KCACHE_MAX_SYMS || !line_of(f, "layout", v, sizeof(v)) ||
	    sscanf(v, "%u %u %u %u %u %u %u %u %u %u %" SCNx64, &l->work_size, &l->work_data,
		   &l->work_entry, &l->work_func, &l->res_size, &l->res_start, &l->res_end,
		   &l->res_name, &l->res_flags, &l->res_desc, &l->work_data_init) != 11 ||
	    !line_of(f, "work_src", l->work_src, sizeof(l->work_src)) ||
	    !line_of(f, "res_src", l->res_src, sizeof(l->res_src)) ||
	    !line_of(f, "work_data_init_src", l->work_data_init_src, sizeof(l->work_data_init_src)))
		return -ESTALE;
	k->layout = (enum ksymtab_layout)layout;
	k->syms = calloc(k->nsyms, sizeof(*k->syms));
	if (!k->syms)
		return -ENOMEM;
	for (size_t i = 0; i < k->nsyms; i++) {
		if (!line_of(f, "sym", v, sizeof(v)))
			return -ESTALE;
		char *name = strchr(v, ' ');
		if (!name || sscanf(v, "%" SCNx64, &k->syms[i].addr) != 1 || !name[1] ||
		    (i && strcmp(k->syms[i - 1].name, name + 1) >= 0))
			return -ESTALE; /* sorted by name, as guest__kernel_symbol searches */
		k->syms[i].name = strdup(name + 1);
		if (!k->syms[i].name)
			return -ENOMEM;
	}
	return 0;
}

int kcache__load(const struct guest_mem *m, const struct guest_mmu *mmu, struct guest_kernel *k,
		 struct guest_layout *l)
{
	struct guest_kernel c = { .vbase = k->vbase,
				  .kaslr_offset = k->kaslr_offset,
				  .pbase = k->pbase,
				  .paging_levels = k->paging_levels };
	struct guest_layout cl = { 0 };
	char path[4096];
	uint64_t want, now;
	FILE *f;
	int err = kcache__path(k, path, sizeof(path));

	if (err)
		return err;
	f = fopen(path, "r");
	if (!f)
		return errno == ENOENT ? -ENOENT : -ESTALE;
	err = read_entry(f, &c, &cl, &want);
	fclose(f);
	if (!err && !banner_matches(m, mmu, c.banner_va, c.banner))
		err = -ESTALE;
	if (!err)
		err = ksymtab_hash(m, mmu, c.layout, c.ksymtab_va, c.nsyms, &now) ? -ESTALE : 0;
	if (!err && now != want)
		err = -ESTALE;
	if (err) {
		guest__kernel_free(&c);
		return err;
	}
	*k = c;
	*l = cl;
	return 0;
}
