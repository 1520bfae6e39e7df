// SPDX-License-Identifier: GPL-2.0
/*
 * The stage1 loader (loader.h). stage1.so is a freestanding shared object
 * linked with -z now and no PLT, so loading it is: copy each PT_LOAD to its
 * offset from the base, leave the BSS zero, and apply four relocation
 * types to its GOT and data. Nothing runs on the host; the image goes into
 * guest RAM as is. The ELF is parsed with libelf after the raw header has
 * been checked against the blob's size, and every offset and address
 * computed from it is bounds- and overflow-checked.
 */
#include <errno.h>
#include <gelf.h>
#include <libelf.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loader.h"
#include "util.h"

#define MAX_PHDRS 64
#define MAX_SECTIONS 256
#define MAX_RELA_SECTIONS 4

struct segment {
	uint64_t vaddr, memsz, offset, filesz;
	int prot;
};

struct loader {
	char *blob; /* our copy, which elf points into */
	size_t size;
	Elf *elf;
	struct segment seg[LOADER_MAX_SEGMENTS];
	size_t nseg;
	uint64_t lo, hi; /* page-aligned span of the segments (link addresses) */
	Elf_Scn *dynsym_scn;
	Elf_Data *dynsym;
	size_t dynsym_n, dynstr;
	Elf_Data *rela[MAX_RELA_SECTIONS];
	size_t nrela;
	uint64_t entry, abi; /* link addresses */
	const char **imports;
	size_t nimports;
};

/* What stage1 may link where the guest lacks an import (imports.h). */
static const struct {
	const char *name, *other;
} alternatives[] = {
#define STAGE1_IMPORT(name)
#define STAGE1_ALTERNATIVE(name, other) { #name, #other },
#include "../stage1/imports.h"
#undef STAGE1_IMPORT
#undef STAGE1_ALTERNATIVE
};

const char *loader__alternative(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(alternatives); i++)
		if (!strcmp(alternatives[i].name, name))
			return alternatives[i].other;
	return NULL;
}

static uint64_t page_down(uint64_t x)
{
	return x & ~(LOADER_PAGE_SIZE - 1);
}

static bool page_up(uint64_t x, uint64_t *out)
{
	if (x > UINT64_MAX - (LOADER_PAGE_SIZE - 1))
		return false;
	*out = page_down(x + LOADER_PAGE_SIZE - 1);
	return true;
}

/* [off, off + len) lies inside [0, size) */
static bool in_range(uint64_t off, uint64_t len, uint64_t size)
{
	return off <= size && len <= size - off;
}

static int bad(const char *what)
{
	pr_err("stage1.so: %s", what);
	return -EINVAL;
}

/* The raw header, before libelf sees the blob. */
static int loader__check_ehdr(const struct loader *l)
{
	Elf64_Ehdr eh;

	if (l->size < sizeof(eh))
		return bad("truncated ELF header");
	memcpy(&eh, l->blob, sizeof(eh));
	if (memcmp(eh.e_ident, ELFMAG, SELFMAG))
		return bad("not an ELF file");
	if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB ||
	    eh.e_ident[EI_VERSION] != EV_CURRENT || eh.e_version != EV_CURRENT)
		return bad("not a little-endian ELF64 file");
	if (eh.e_type != ET_DYN || eh.e_machine != EM_X86_64)
		return bad("not an x86-64 shared object");
	if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0 || eh.e_phnum > MAX_PHDRS ||
	    !in_range(eh.e_phoff, (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr), l->size))
		return bad("bad program header table");
	if (eh.e_shentsize != sizeof(Elf64_Shdr) || eh.e_shnum == 0 || eh.e_shnum > MAX_SECTIONS ||
	    eh.e_shstrndx >= eh.e_shnum ||
	    !in_range(eh.e_shoff, (uint64_t)eh.e_shnum * sizeof(Elf64_Shdr), l->size))
		return bad("bad section header table");
	return 0;
}

static int loader__segments(struct loader *l)
{
	size_t n;

	if (elf_getphdrnum(l->elf, &n) || n > MAX_PHDRS)
		return bad("bad program header table");
	for (size_t i = 0; i < n; i++) {
		struct segment *s = &l->seg[l->nseg];
		uint64_t end;
		GElf_Phdr ph;

		if (!gelf_getphdr(l->elf, (int)i, &ph))
			return bad("bad program header");
		if (ph.p_type == PT_INTERP || ph.p_type == PT_TLS)
			return bad("PT_INTERP or PT_TLS in stage1");
		if (ph.p_type != PT_LOAD)
			continue;
		if (l->nseg == LOADER_MAX_SEGMENTS)
			return bad("too many PT_LOAD segments");
		if (ph.p_filesz > ph.p_memsz || !in_range(ph.p_offset, ph.p_filesz, l->size) ||
		    ph.p_memsz == 0 || ph.p_memsz > LOADER_MAX_IMAGE ||
		    ph.p_vaddr > LOADER_MAX_IMAGE || (ph.p_vaddr - ph.p_offset) % LOADER_PAGE_SIZE)
			return bad("bad PT_LOAD segment");
		if ((ph.p_flags & PF_W) && (ph.p_flags & PF_X))
			return bad("writable and executable segment");
		*s = (struct segment){ .vaddr = ph.p_vaddr,
				       .memsz = ph.p_memsz,
				       .offset = ph.p_offset,
				       .filesz = ph.p_filesz,
				       .prot = LOADER_PROT_R };
		if (ph.p_flags & PF_W)
			s->prot |= LOADER_PROT_W;
		if (ph.p_flags & PF_X)
			s->prot |= LOADER_PROT_X;
		/* Each page gets one protection: no page is shared. */
		if (!page_up(s->vaddr + s->memsz, &end) || (l->nseg && page_down(s->vaddr) < l->hi))
			return bad("overlapping or unsorted PT_LOAD segments");
		if (!l->nseg)
			l->lo = page_down(s->vaddr);
		l->hi = end;
		l->nseg++;
	}
	if (!l->nseg)
		return bad("no PT_LOAD segment");
	if (l->hi - l->lo > LOADER_MAX_IMAGE)
		return bad("image too large");
	return 0;
}

/* The segment holding [va, va + len), or NULL. */
static const struct segment *loader__segment_at(const struct loader *l, uint64_t va, uint64_t len)
{
	for (size_t i = 0; i < l->nseg; i++)
		if (va >= l->seg[i].vaddr && in_range(va - l->seg[i].vaddr, len, l->seg[i].memsz))
			return &l->seg[i];
	return NULL;
}

static int loader__sections(struct loader *l, Elf_Scn **symtab, size_t *symtab_str)
{
	Elf_Scn *scn = NULL, *dynsym = NULL;
	size_t shnum;

	*symtab = NULL;
	if (elf_getshdrnum(l->elf, &shnum) || shnum > MAX_SECTIONS)
		return bad("bad section header table");
	while ((scn = elf_nextscn(l->elf, scn))) {
		GElf_Shdr sh;

		if (!gelf_getshdr(scn, &sh))
			return bad("bad section header");
		if (sh.sh_type != SHT_NOBITS && !in_range(sh.sh_offset, sh.sh_size, l->size))
			return bad("section outside the file");
		switch (sh.sh_type) {
		case SHT_REL:
			return bad("SHT_REL relocations");
		case SHT_RELA:
			if (!(sh.sh_flags & SHF_ALLOC) || sh.sh_entsize != sizeof(Elf64_Rela) ||
			    sh.sh_size % sizeof(Elf64_Rela) || l->nrela == MAX_RELA_SECTIONS)
				return bad("bad relocation section");
			if (sh.sh_size && !(l->rela[l->nrela++] = elf_getdata(scn, NULL)))
				return bad("unreadable relocation section");
			break;
		case SHT_DYNSYM:
		case SHT_SYMTAB:
			if (sh.sh_entsize != sizeof(Elf64_Sym) || sh.sh_size % sizeof(Elf64_Sym) ||
			    sh.sh_link == 0 || sh.sh_link >= shnum)
				return bad("bad symbol table");
			if (sh.sh_type == SHT_SYMTAB) {
				if (*symtab)
					return bad("two symbol tables");
				*symtab = scn;
				*symtab_str = sh.sh_link;
				break;
			}
			if (dynsym)
				return bad("two dynamic symbol tables");
			dynsym = scn;
			l->dynsym_scn = scn;
			l->dynstr = sh.sh_link;
			l->dynsym_n = sh.sh_size / sizeof(Elf64_Sym);
			l->dynsym = elf_getdata(scn, NULL);
			if (!l->dynsym || l->dynsym->d_size != sh.sh_size)
				return bad("unreadable .dynsym");
			break;
		}
	}
	if (l->nrela && !dynsym)
		return bad("relocations without .dynsym");
	/* Every relocation section refers to .dynsym. */
	scn = NULL;
	while ((scn = elf_nextscn(l->elf, scn))) {
		GElf_Shdr sh;

		if (gelf_getshdr(scn, &sh) && sh.sh_type == SHT_RELA && sh.sh_size &&
		    sh.sh_link != elf_ndxscn(dynsym))
			return bad("relocations not against .dynsym");
	}
	return 0;
}

/* A defined symbol's link address, by name, from one symbol table. */
static bool loader__find(const struct loader *l, Elf_Scn *scn, size_t strndx, const char *name,
			 GElf_Sym *out)
{
	Elf_Data *d = scn ? elf_getdata(scn, NULL) : NULL;
	size_t n = d ? d->d_size / sizeof(Elf64_Sym) : 0;

	for (size_t i = 1; i < n; i++) {
		const char *s;
		GElf_Sym sym;

		if (!gelf_getsym(d, (int)i, &sym) || sym.st_shndx == SHN_UNDEF)
			continue;
		s = elf_strptr(l->elf, strndx, sym.st_name);
		if (s && !strcmp(s, name)) {
			*out = sym;
			return true;
		}
	}
	return false;
}

static int loader__symbols(struct loader *l, Elf_Scn *symtab, size_t symtab_str)
{
	const struct segment *s;
	GElf_Sym entry, abi;

	/* Hidden, so only in .symtab, unless stage1 is built to export them. */
	if (!loader__find(l, symtab, symtab_str, "stage1_entry", &entry) &&
	    !loader__find(l, l->dynsym_scn, l->dynstr, "stage1_entry", &entry))
		return bad("no stage1_entry symbol (stripped?)");
	if (!loader__find(l, symtab, symtab_str, "stage1_abi", &abi) &&
	    !loader__find(l, l->dynsym_scn, l->dynstr, "stage1_abi", &abi))
		return bad("no stage1_abi symbol (stripped?)");
	s = loader__segment_at(l, entry.st_value, 16);
	if (GELF_ST_TYPE(entry.st_info) != STT_FUNC || !s || !(s->prot & LOADER_PROT_X))
		return bad("stage1_entry is not code");
	s = loader__segment_at(l, abi.st_value, sizeof(struct stage1_abi));
	if (abi.st_size != sizeof(struct stage1_abi) || abi.st_value % 16 || !s ||
	    !(s->prot & LOADER_PROT_W))
		return bad("stage1_abi does not match stage1_abi.h");
	l->entry = entry.st_value;
	l->abi = abi.st_value;

	l->imports = calloc(l->dynsym_n ? l->dynsym_n : 1, sizeof(*l->imports));
	if (!l->imports)
		return -ENOMEM;
	for (size_t i = 1; i < l->dynsym_n; i++) {
		GElf_Sym sym;
		const char *name;

		if (!gelf_getsym(l->dynsym, (int)i, &sym))
			return bad("bad .dynsym entry");
		if (sym.st_shndx != SHN_UNDEF)
			continue;
		name = elf_strptr(l->elf, l->dynstr, sym.st_name);
		if (!name || !*name)
			return bad("undefined symbol without a name");
		l->imports[l->nimports++] = name;
	}
	return 0;
}

int loader__open(struct loader **lp, const void *blob, size_t size)
{
	struct loader *l = calloc(1, sizeof(*l));
	Elf_Scn *symtab;
	size_t symtab_str = 0;
	int ret = -ENOMEM;

	*lp = NULL;
	if (!l)
		return -ENOMEM;
	l->size = size;
	l->blob = malloc(size ? size : 1);
	if (!l->blob)
		goto err;
	if (size)
		memcpy(l->blob, blob, size);
	ret = loader__check_ehdr(l);
	if (ret)
		goto err;
	ret = -EINVAL;
	if (elf_version(EV_CURRENT) == EV_NONE) {
		pr_err("libelf: %s", elf_errmsg(-1));
		goto err;
	}
	l->elf = elf_memory(l->blob, size);
	if (!l->elf || elf_kind(l->elf) != ELF_K_ELF) {
		ret = bad("libelf cannot read it");
		goto err;
	}
	ret = loader__segments(l);
	if (!ret)
		ret = loader__sections(l, &symtab, &symtab_str);
	if (!ret)
		ret = loader__symbols(l, symtab, symtab_str);
	if (ret)
		goto err;
	*lp = l;
	return 0;
err:
	loader__close(l);
	return ret;
}

void loader__close(struct loader *l)
{
	if (!l)
		return;
	if (l->elf)
		elf_end(l->elf);
	free(l->imports);
	free(l->blob);
	free(l);
}

uint64_t loader__segments_size(const struct loader *l)
{
	return l->hi - l->lo;
}

size_t loader__nimports(const struct loader *l)
{
	return l->nimports;
}

const char *loader__import(const struct loader *l, size_t i)
{
	return i < l->nimports ? l->imports[i] : NULL;
}

/* S: the address a relocation's symbol stands for. */
static int loader__symbol_value(const struct loader *l, uint64_t base, size_t symi,
				loader_resolve_fn resolve, void *ctx, uint64_t *val)
{
	const char *name, *other;
	GElf_Sym sym;
	int ret;

	if (!symi || symi >= l->dynsym_n || !gelf_getsym(l->dynsym, (int)symi, &sym))
		return bad("relocation with a bad symbol index");
	name = elf_strptr(l->elf, l->dynstr, sym.st_name);
	if (!name)
		return bad("symbol without a name");
	if (sym.st_shndx == SHN_ABS) {
		*val = sym.st_value;
		return 0;
	}
	if (sym.st_shndx != SHN_UNDEF) {
		if (sym.st_value < l->lo || sym.st_value >= l->hi)
			return bad("symbol outside the image");
		*val = base + sym.st_value;
		return 0;
	}
	ret = resolve ? resolve(ctx, name, val) : -ENOENT;
	other = loader__alternative(name);
	if (ret == -ENOENT && other)
		ret = resolve(ctx, other, val);
	if (ret == -ENOENT && GELF_ST_BIND(sym.st_info) == STB_WEAK) {
		*val = 0;
		return 0;
	}
	if (ret == -ENOENT && other)
		pr_err("stage1: the guest kernel exports neither %s nor %s", name, other);
	else if (ret == -ENOENT)
		pr_err("stage1: the guest kernel does not export %s", name);
	else if (ret)
		pr_err("stage1: cannot resolve %s: %s", name, strerror(-ret));
	return ret;
}

static int loader__relocate(const struct loader *l, uint64_t base, loader_resolve_fn resolve,
			    void *ctx, uint8_t *buf)
{
	for (size_t r = 0; r < l->nrela; r++) {
		size_t n = l->rela[r]->d_size / sizeof(Elf64_Rela);

		for (size_t i = 0; i < n; i++) {
			const struct segment *s;
			uint64_t val;
			GElf_Rela rela;
			int ret;

			if (!gelf_getrela(l->rela[r], (int)i, &rela))
				return bad("bad relocation");
			s = loader__segment_at(l, rela.r_offset, 8);
			if (!s || !(s->prot & LOADER_PROT_W))
				return bad("relocation outside the writable segments");
			switch (ELF64_R_TYPE(rela.r_info)) {
			case R_X86_64_RELATIVE:
				if (ELF64_R_SYM(rela.r_info))
					return bad("R_X86_64_RELATIVE with a symbol");
				val = base + (uint64_t)rela.r_addend;
				break;
			case R_X86_64_GLOB_DAT:
			case R_X86_64_JUMP_SLOT:
			case R_X86_64_64:
				ret = loader__symbol_value(l, base, ELF64_R_SYM(rela.r_info),
							   resolve, ctx, &val);
				if (ret)
					return ret;
				if (ELF64_R_TYPE(rela.r_info) == R_X86_64_64)
					val += (uint64_t)rela.r_addend;
				break;
			default:
				pr_err("stage1.so: unsupported relocation type %llu",
				       (unsigned long long)ELF64_R_TYPE(rela.r_info));
				return -EINVAL;
			}
			memcpy(buf + (rela.r_offset - l->lo), &val, sizeof(val));
		}
	}
	return 0;
}

int loader__load(const struct loader *l, uint64_t base, const size_t *extra_sizes, size_t nextra,
		 loader_resolve_fn resolve, void *ctx, struct stage1_image *img)
{
	const struct stage1_abi *abi;
	uint64_t size = l->hi - l->lo, extra_at[LOADER_MAX_EXTRA];
	int ret;

	memset(img, 0, sizeof(*img));
	if (base % LOADER_PAGE_SIZE || nextra > LOADER_MAX_EXTRA) {
		pr_err("stage1: bad base 0x%llx or %zu extra areas", (unsigned long long)base,
		       nextra);
		return -EINVAL;
	}
	for (size_t i = 0; i < nextra; i++) {
		uint64_t len;

		if (!extra_sizes[i] || !page_up(extra_sizes[i], &len) ||
		    len > LOADER_MAX_IMAGE - size) {
			pr_err("stage1: extra area %zu of %zu bytes is too large", i,
			       extra_sizes[i]);
			return -E2BIG;
		}
		extra_at[i] = size;
		size += len;
	}
	if (base + l->lo < base || base + l->lo + size - 1 < base + l->lo) {
		pr_err("stage1: the image does not fit at 0x%llx", (unsigned long long)base);
		return -EINVAL;
	}
	img->buf = aligned_alloc(LOADER_PAGE_SIZE, size);
	if (!img->buf)
		return -ENOMEM;
	memset(img->buf, 0, size);
	img->size = size;
	img->gva = base + l->lo;

	for (size_t i = 0; i < l->nseg; i++) {
		const struct segment *s = &l->seg[i];
		struct loader_area *a = &img->areas[img->nareas++];
		uint64_t end = 0;

		memcpy(img->buf + (s->vaddr - l->lo), l->blob + s->offset, s->filesz);
		/* Checked by loader__segments(). */
		(void)page_up(s->vaddr + s->memsz, &end);
		a->offset = page_down(s->vaddr) - l->lo;
		a->gva = img->gva + a->offset;
		a->size = end - page_down(s->vaddr);
		a->prot = s->prot;
	}
	for (size_t i = 0; i < nextra; i++) {
		struct loader_area *a = &img->areas[img->nareas++];

		img->extra_offset[i] = extra_at[i];
		img->extra_gva[i] = img->gva + extra_at[i];
		a->offset = extra_at[i];
		a->gva = img->extra_gva[i];
		(void)page_up(extra_sizes[i], &a->size);
		a->prot = LOADER_PROT_R;
	}
	img->nextra = nextra;

	ret = loader__relocate(l, base, resolve, ctx, img->buf);
	if (ret)
		goto err;
	img->entry_gva = base + l->entry;
	img->abi_gva = base + l->abi;
	img->abi_offset = l->abi - l->lo;
	abi = (const struct stage1_abi *)(img->buf + img->abi_offset);
	if (abi->magic != STAGE1_ABI_MAGIC || abi->version != STAGE1_ABI_VERSION ||
	    abi->size != sizeof(struct stage1_abi)) {
		ret = bad("built for another stage1_abi.h (rebuild)");
		goto err;
	}
	return 0;
err:
	loader__image_free(img);
	return ret;
}

void loader__image_free(struct stage1_image *img)
{
	free(img->buf);
	memset(img, 0, sizeof(*img));
}

struct stage1_abi *loader__abi(struct stage1_image *img)
{
	return (struct stage1_abi *)(img->buf + img->abi_offset);
}

/* Append s to the area at *used; its offset in *off. */
static int put_string(uint8_t *area, size_t cap, size_t *used, const char *s, uint32_t *off)
{
	size_t len = strlen(s) + 1;

	if (len > cap - *used || *used > UINT32_MAX)
		return -E2BIG;
	memcpy(area + *used, s, len);
	*off = (uint32_t)*used;
	*used += len;
	return 0;
}

int loader__set_args(struct stage1_image *img, size_t extra, char *const argv[], char *const envp[])
{
	struct stage1_abi *abi = loader__abi(img);
	struct loader_area *a;
	size_t used = 0, n;
	int ret;

	if (extra >= img->nextra || !argv || !argv[0])
		return -EINVAL;
	a = &img->areas[img->nareas - img->nextra + extra];
	if (a->size > UINT32_MAX)
		return -E2BIG;
	for (n = 0; argv[n]; n++) {
		if (n == STAGE1_MAX_ARGV)
			return -E2BIG;
		ret = put_string(img->buf + a->offset, a->size, &used, argv[n], &abi->argv[n]);
		if (ret)
			return ret;
	}
	abi->argc = (uint32_t)n;
	for (n = 0; envp && envp[n]; n++) {
		if (n == STAGE1_MAX_ENVP)
			return -E2BIG;
		ret = put_string(img->buf + a->offset, a->size, &used, envp[n], &abi->envp[n]);
		if (ret)
			return ret;
	}
	abi->envc = (uint32_t)n;
	abi->strings_gva = a->gva;
	abi->strings_size = (uint32_t)a->size;
	return 0;
}

int loader__work_data_init(const char *release, uint64_t *data)
{
	static const char prefix[] = "Linux version ";
	unsigned int major, minor, shift;

	if (!strncmp(release, prefix, sizeof(prefix) - 1))
		release += sizeof(prefix) - 1;
	if (sscanf(release, "%u.%u", &major, &minor) != 2)
		return -EINVAL;
	if (major < 5 || (major == 5 && minor < 10))
		return -ENOTSUP; /* older than any kernel this table was checked against */
	/*
	 * WORK_OFFQ_POOL_SHIFT: 4 flag bits + CANCELING before 6.10; 4 + BH +
	 * 16 bits of disable depth since. WORK_OFFQ_POOL_BITS is 31 on 64-bit.
	 */
	shift = (major > 6 || (major == 6 && minor >= 10)) ? 21 : 5;
	*data = 0x7fffffffULL << shift;
	return 0;
}
