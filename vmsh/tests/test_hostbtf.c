// SPDX-License-Identifier: GPL-2.0
/*
 * hostbtf.c: the host kernel's types cut down to what a BPF object relocates.
 *
 * Synthetic BTF: a kernel struct with more members than the object declares,
 * one of them inside an anonymous union, an array of a bigger struct, an
 * enum where the object says int, and a member the kernel lacks: the cut-down
 * struct has the kernel's size and offsets, the object's members only. The
 * memslots probe's own BTF against this machine's vmlinux (a machine without
 * one skips, saying so): its pt_regs and file members at vmlinux's offsets.
 * The cache: a miss asks for the object's BTF, a store replaces another
 * key's entry, a hit reuses the file, and an unwritable cache directory
 * gives a temporary copy instead.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "hostbtf.h"
#include "skip.h"
#include "util.h"

/* The memslots probe's object (MEMSLOTS_BPF_OBJ, from the make file), read whole. */
static const void *memslots_bytes(size_t *len)
{
	static char *bytes;
	static size_t size;
	FILE *f;

	if (!bytes) {
		f = fopen(MEMSLOTS_BPF_OBJ, "rb");
		assert_non_null(f);
		assert_int_equal(fseek(f, 0, SEEK_END), 0);
		size = (size_t)ftell(f);
		rewind(f);
		bytes = malloc(size);
		assert_non_null(bytes);
		assert_int_equal(fread(bytes, 1, size, f), size);
		fclose(f);
	}
	*len = size;
	return bytes;
}

/* @name's member @member in @btf: its bit offset, or -1. */
static long member_bits(const struct btf *btf, const char *name, const char *member, uint32_t *type)
{
	int id = btf__find_by_name_kind(btf, name, BTF_KIND_STRUCT);
	const struct btf_type *t = id > 0 ? btf__type_by_id(btf, (uint32_t)id) : NULL;

	for (unsigned i = 0; t && i < btf_vlen(t); i++)
		if (!strcmp(btf__name_by_offset(btf, btf_members(t)[i].name_off), member)) {
			if (type)
				*type = btf_members(t)[i].type;
			return (long)btf_member_bit_offset(t, i);
		}
	return -1;
}

static uint32_t struct_size(const struct btf *btf, const char *name)
{
	int id = btf__find_by_name_kind(btf, name, BTF_KIND_STRUCT);

	return id > 0 ? btf__type_by_id(btf, (uint32_t)id)->size : 0;
}

static void synthetic(void **state)
{
	struct btf *local = btf__new_empty(), *kern = btf__new_empty(), *cut;
	const struct btf_type *t;
	int l_int, l_long, l_ptr, l_inner, l_arr, k_int, k_long, k_ptr, k_inner, k_arr, k_enum,
	    k_anon, k_char, k_pad;
	uint32_t type;

	(void)state;
	/* the object: struct inner { int a; }; struct outer { long x; struct inner in[4];
	 * void *p; int e; int missing; } */
	l_int = btf__add_int(local, "int", 4, BTF_INT_SIGNED);
	l_long = btf__add_int(local, "long", 8, BTF_INT_SIGNED);
	l_ptr = btf__add_ptr(local, 0);
	l_inner = btf__add_struct(local, "inner", 4);
	assert_int_equal(btf__add_field(local, "a", l_int, 0, 0), 0);
	l_arr = btf__add_array(local, l_int, l_inner, 4);
	assert_true(btf__add_struct(local, "outer", 40) > 0);
	assert_int_equal(btf__add_field(local, "x", l_long, 0, 0), 0);
	assert_int_equal(btf__add_field(local, "in", l_arr, 64, 0), 0);
	assert_int_equal(btf__add_field(local, "p", l_ptr, 192, 0), 0);
	assert_int_equal(btf__add_field(local, "e", l_int, 256, 0), 0);
	assert_int_equal(btf__add_field(local, "missing", l_int, 288, 0), 0);

	/* the kernel: inner { long pad; int a; int b; } (16 bytes); outer { int pad0;
	 * union { long x; int y; }; char pad[20]; struct inner in[8]; void *p; enum e; } */
	k_int = btf__add_int(kern, "int", 4, BTF_INT_SIGNED);
	k_long = btf__add_int(kern, "long int", 8, BTF_INT_SIGNED);
	k_char = btf__add_int(kern, "char", 1, BTF_INT_SIGNED);
	k_ptr = btf__add_ptr(kern, 0);
	k_inner = btf__add_struct(kern, "inner", 16);
	assert_int_equal(btf__add_field(kern, "pad", k_long, 0, 0), 0);
	assert_int_equal(btf__add_field(kern, "a", k_int, 64, 0), 0);
	assert_int_equal(btf__add_field(kern, "b", k_int, 96, 0), 0);
	k_arr = btf__add_array(kern, k_int, k_inner, 8);
	k_pad = btf__add_array(kern, k_int, k_char, 20);
	k_enum = btf__add_enum(kern, "mode", 4);
	assert_int_equal(btf__add_enum_value(kern, "MODE_A", 0), 0);
	k_anon = btf__add_union(kern, NULL, 8);
	assert_int_equal(btf__add_field(kern, "x", k_long, 0, 0), 0);
	assert_int_equal(btf__add_field(kern, "y", k_int, 0, 0), 0);
	assert_true(btf__add_struct(kern, "outer", 192) > 0);
	assert_int_equal(btf__add_field(kern, "pad0", k_int, 0, 0), 0);
	assert_int_equal(btf__add_field(kern, NULL, k_anon, 64, 0), 0);
	assert_int_equal(btf__add_field(kern, "pad", k_pad, 128, 0), 0);
	assert_int_equal(btf__add_field(kern, "in", k_arr, 288, 0), 0);
	assert_int_equal(btf__add_field(kern, "p", k_ptr, 1312, 0), 0);
	assert_int_equal(btf__add_field(kern, "e", k_enum, 1376, 0), 0);

	cut = hostbtf__project(local, kern);
	assert_non_null(cut);
	assert_int_equal(struct_size(cut, "outer"), 192);
	assert_int_equal(struct_size(cut, "inner"), 16);
	assert_int_equal(member_bits(cut, "outer", "x", NULL), 64);
	assert_int_equal(member_bits(cut, "outer", "in", &type), 288);
	t = btf__type_by_id(cut, type);
	assert_true(btf_is_array(t));
	assert_int_equal(btf_array(t)->nelems, 8);
	assert_int_equal(btf__type_by_id(cut, btf_array(t)->type)->size, 16);
	assert_int_equal(member_bits(cut, "inner", "a", NULL), 64);
	assert_int_equal(member_bits(cut, "inner", "b", NULL), -1); /* not the object's */
	assert_int_equal(member_bits(cut, "outer", "p", &type), 1312);
	assert_true(btf_is_ptr(btf__type_by_id(cut, type)));
	assert_int_equal(member_bits(cut, "outer", "e", &type), 1376);
	t = btf__type_by_id(cut, type);
	assert_true(btf_is_int(t) && t->size == 4);
	assert_int_equal(member_bits(cut, "outer", "missing", NULL), -1);
	assert_int_equal(member_bits(cut, "outer", "pad0", NULL), -1);
	btf__free(cut);
	btf__free(kern);
	btf__free(local);
}

static struct bpf_object *memslots_object(void)
{
	size_t len;
	const void *bytes = memslots_bytes(&len);
	struct bpf_object *obj = bpf_object__open_mem(bytes, len, NULL);

	assert_non_null(obj);
	return obj;
}

static void against_vmlinux(void **state)
{
	struct btf *vmlinux, *cut;
	struct bpf_object *obj;

	(void)state;
	if (access("/sys/kernel/btf/vmlinux", R_OK))
		skip_because("this machine's kernel has no BTF (/sys/kernel/btf/vmlinux)");
	vmlinux = btf__load_vmlinux_btf();
	assert_non_null(vmlinux);
	obj = memslots_object();
	cut = hostbtf__project(bpf_object__btf(obj), vmlinux);
	assert_non_null(cut);
	for (const char *const *m = (const char *const[]){ "di", "si", "dx", NULL }; *m; m++)
		assert_int_equal(member_bits(cut, "pt_regs", *m, NULL),
				 member_bits(vmlinux, "pt_regs", *m, NULL));
	assert_true(member_bits(vmlinux, "file", "private_data", NULL) > 0);
	assert_int_equal(member_bits(cut, "file", "private_data", NULL),
			 member_bits(vmlinux, "file", "private_data", NULL));
	assert_int_equal(struct_size(cut, "file"), struct_size(vmlinux, "file"));
	/* a few KiB instead of megabytes */
	{
		uint32_t cut_size, full_size;

		btf__raw_data(cut, &cut_size);
		btf__raw_data(vmlinux, &full_size);
		printf("# cut-down kernel types: %u bytes of %u\n", cut_size, full_size);
		assert_true(cut_size < 16384);
	}
	btf__free(cut);
	btf__free(vmlinux);
	bpf_object__close(obj);
}

static void cache(void **state)
{
	char dir[] = "/tmp/vmsh-hostbtf-XXXXXX", path[4096], again[4096], stale[4200];
	size_t len;
	const void *bytes = memslots_bytes(&len);
	struct bpf_object *obj;
	struct btf *btf;
	FILE *f;

	(void)state;
	if (access("/sys/kernel/btf/vmlinux", R_OK))
		skip_because("this machine's kernel has no BTF (/sys/kernel/btf/vmlinux)");
	assert_non_null(mkdtemp(dir));
	setenv("VMSH_CACHE_DIR", dir, 1);
	obj = memslots_object();
	assert_int_equal(hostbtf__get(bytes, len, "kvm", NULL, path, sizeof(path)), -ENOENT);
	snprintf(stale, sizeof(stale), "%s/host", dir);
	assert_int_equal(mkdir(stale, 0755), 0);
	snprintf(stale, sizeof(stale), "%s/host/core-0000000000000000.btf", dir);
	f = fopen(stale, "w");
	assert_non_null(f);
	fclose(f);

	assert_int_equal(hostbtf__get(bytes, len, "kvm", bpf_object__btf(obj), path, sizeof(path)),
			 0);
	assert_int_equal(strncmp(path, dir, strlen(dir)), 0);
	assert_int_not_equal(access(stale, F_OK), 0); /* another key's entry went */
	btf = btf__parse(path, NULL);
	assert_non_null(btf);
	assert_true(member_bits(btf, "pt_regs", "di", NULL) >= 0);
	btf__free(btf);
	assert_int_equal(hostbtf__get(bytes, len, "kvm", NULL, again, sizeof(again)), 0);
	assert_string_equal(again, path);
	hostbtf__put(again, false);

	/* a cache directory that cannot be made: a temporary copy, released by put */
	snprintf(stale, sizeof(stale), "%s/file", dir);
	f = fopen(stale, "w");
	assert_non_null(f);
	fclose(f);
	snprintf(again, sizeof(again), "%s/file/sub", dir);
	setenv("VMSH_CACHE_DIR", again, 1);
	assert_int_equal(hostbtf__get(bytes, len, "kvm", bpf_object__btf(obj), path, sizeof(path)),
			 0);
	assert_int_equal(strncmp(path, "/proc/self/fd/", 14), 0);
	btf = btf__parse(path, NULL);
	assert_non_null(btf);
	btf__free(btf);
	hostbtf__put(path, false);
	assert_int_not_equal(access(path, F_OK), 0);

	bpf_object__close(obj);
	unlink(stale);
	snprintf(stale, sizeof(stale), "rm -rf '%s'", dir);
	assert_int_equal(system(stale), 0);
	unsetenv("VMSH_CACHE_DIR");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(synthetic),
		cmocka_unit_test(against_vmlinux),
		cmocka_unit_test(cache),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
