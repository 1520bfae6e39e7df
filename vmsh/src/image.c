// SPDX-License-Identifier: GPL-2.0
/*
 * vmsh image: ext4 images of tools for 'vmsh attach', built without root
 * privileges (mkfs.ext4 -d, then debugfs to make every file root's), and the
 * default image: Debian's static busybox with one link per applet, cached
 * and keyed by busybox's content and the layout version.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <limits.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "commands.h"
#include "image.h"
#include "stage2_proto.h"
#include "util.h"

/* Bump when the default image's tree changes: cached images are rebuilt. */
#define IMAGE_LAYOUT 1
#define MIB (1024ull * 1024)

extern char **environ;

static void usage(FILE *f)
{
	fprintf(f, "usage: vmsh image build DIR -o IMAGE [--size SIZE]\n"
		   "       vmsh image default [--rebuild]\n"
		   "\n"
		   "Tool images for 'vmsh attach': ext4 file systems whose root becomes the\n"
		   "command's root in the guest. Built without root privileges; every file\n"
		   "in an image belongs to root.\n"
		   "\n"
		   "  build     make IMAGE from the tree DIR ('vmsh image build --help')\n"
		   "  default   print the path of the default image (busybox), building\n"
		   "            it first if needed ('vmsh image default --help')\n");
}

static void usage_build(FILE *f)
{
	fprintf(f, "usage: vmsh image build DIR -o IMAGE [--size SIZE]\n"
		   "\n"
		   "Writes an ext4 image of directory DIR to IMAGE (atomically: IMAGE is\n"
		   "replaced only by a complete image). Files keep their modes and belong\n"
		   "to root:root. Needs mkfs.ext4 and debugfs (e2fsprogs).\n"
		   "\n"
		   "  -o, --output IMAGE  the image file to write\n"
		   "  -s, --size SIZE     image size in bytes, or with K, M or G (default:\n"
		   "                      the tree's size plus headroom)\n"
		   "  -h, --help          this text\n");
}

static void usage_default(FILE *f)
{
	fprintf(f, "usage: vmsh image default [--rebuild]\n"
		   "\n"
		   "Prints the path of the default tools image: Debian's static busybox\n"
		   "(/bin/busybox, package busybox-static; $VMSH_BUSYBOX overrides) with one\n"
		   "link per applet, /etc/passwd and /etc/group for root, and empty /proc,\n"
		   "/sys, /dev, /tmp, /root and /var/lib/vmsh. It is built once and cached in\n"
		   "${XDG_CACHE_HOME:-~/.cache}/vmsh/ (root: /var/cache/vmsh/), and rebuilt\n"
		   "when busybox changes ($VMSH_CACHE_DIR overrides the directory).\n"
		   "\n"
		   "  --rebuild   build it again even if it is cached\n"
		   "  -h, --help  this text\n");
}

/*
 * Find an e2fsprogs tool: in $VMSH_E2FSPROGS (a directory) if set, else in
 * PATH and then /usr/sbin and /sbin, which are often not in a user's PATH.
 */
static int find_tool(const char *name, char *path, size_t len)
{
	const char *env = getenv("PATH"), *dir = getenv("VMSH_E2FSPROGS");
	char dirs[4096];

	if (dir && *dir)
		snprintf(dirs, sizeof(dirs), "%s", dir);
	else
		snprintf(dirs, sizeof(dirs), "%s:/usr/sbin:/sbin", env ? env : "/usr/bin:/bin");
	for (char *save, *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		snprintf(path, len, "%s/%s", d, name);
		if (!access(path, X_OK))
			return 0;
	}
	pr_err("%s not found: install e2fsprogs", name);
	return -ENOENT;
}

/* Run argv (never through a shell) with stdout to out_fd (-1: ours); its exit status. */
static int spawn_wait(char *const argv[], int out_fd)
{
	posix_spawn_file_actions_t fa;
	int err, status;
	pid_t pid;

	posix_spawn_file_actions_init(&fa);
	if (out_fd >= 0)
		posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
	err = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (err) {
		pr_err("cannot run %s: %s", argv[0], strerror(err));
		return -err;
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}

/* What the tree needs: filled by a walk of DIR. */
static struct tree_walk {
	uint64_t bytes, inodes;
	bool foreign_owner; /* a file not root's: debugfs must fix ownership */
	FILE *cmds;	    /* debugfs commands, or NULL while only counting */
	size_t root_len;
	int err;
} walk;

static int walk_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	const char *rel = path + walk.root_len;

	(void)ftw;
	if (type == FTW_NS || type == FTW_DNR) {
		pr_err("cannot read %s", path);
		walk.err = -EACCES;
		return 1;
	}
	walk.inodes++;
	if (S_ISREG(st->st_mode))
		walk.bytes += ((uint64_t)st->st_size + 4095) & ~4095ull;
	else if (S_ISDIR(st->st_mode) || (S_ISLNK(st->st_mode) && st->st_size >= 60))
		walk.bytes += 4096; /* shorter links live in the inode */
	if (st->st_uid || st->st_gid)
		walk.foreign_owner = true;
	if (walk.cmds && *rel) {
		if (strpbrk(rel, "\"\n")) {
			pr_err("%s: file names with '\"' or newlines are not supported", path);
			walk.err = -EINVAL;
			return 1;
		}
		fprintf(walk.cmds, "sif \"%s\" uid 0\nsif \"%s\" gid 0\n", rel, rel);
	}
	return 0;
}

static int walk_tree(const char *dir, FILE *cmds)
{
	memset(&walk, 0, sizeof(walk));
	walk.cmds = cmds;
	walk.root_len = strlen(dir);
	if (nftw(dir, walk_entry, 32, FTW_PHYS) && !walk.err)
		walk.err = -errno;
	return walk.err;
}

static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -EINVAL;
	switch (*end) {
	case 'k':
	case 'K':
		v <<= 10;
		end++;
		break;
	case 'm':
	case 'M':
		v <<= 20;
		end++;
		break;
	case 'g':
	case 'G':
		v <<= 30;
		end++;
		break;
	}
	if (*end || v > (1ull << 44))
		return -EINVAL;
	*out = v;
	return 0;
}

/* Make every file root's: mkfs.ext4 -d copies the owners of the tree. */
static int chown_root(const char *dir, const char *image, const char *tmpl)
{
	char debugfs[PATH_MAX], cmds_path[PATH_MAX];
	int fd, rc, err = find_tool("debugfs", debugfs, sizeof(debugfs));
	FILE *cmds;

	if (err)
		return err;
	if (snprintf(cmds_path, sizeof(cmds_path), "%s.cmds.XXXXXX", tmpl) >= PATH_MAX)
		return -ENAMETOOLONG;
	fd = mkstemp(cmds_path);
	if (fd < 0 || !(cmds = fdopen(fd, "w"))) {
		pr_err("cannot write %s: %s", cmds_path, strerror(errno));
		return -errno;
	}
	err = walk_tree(dir, cmds);
	if (fclose(cmds) && !err)
		err = -EIO;
	if (!err) {
		char *argv[] = { debugfs, "-w", "-f", cmds_path, (char *)image, NULL };
		int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);

		/* debugfs echoes each command on stdout; its errors go to stderr */
		rc = spawn_wait(argv, devnull);
		if (devnull >= 0)
			close(devnull);
		if (rc) {
			pr_err("debugfs could not give the image's files to root (status %d)", rc);
			err = rc < 0 ? rc : -EIO;
		}
	}
	unlink(cmds_path);
	return err;
}

static int image_build(const char *dir, const char *out, uint64_t size)
{
	char mkfs[PATH_MAX], tmp[PATH_MAX], inodes[32], sizek[32];
	uint64_t need;
	struct stat st;
	int fd, rc, err;

	if (stat(dir, &st) || !S_ISDIR(st.st_mode)) {
		pr_err("%s: %s", dir,
		       errno && !S_ISDIR(st.st_mode) ? strerror(errno) : "not a directory");
		return -ENOTDIR;
	}
	err = find_tool("mkfs.ext4", mkfs, sizeof(mkfs));
	if (err)
		return err;
	err = walk_tree(dir, NULL);
	if (err)
		return err;
	/* data, inode tables (256 bytes per inode, with room to spare) and metadata */
	need = walk.bytes + (walk.inodes + 64) * 256 + MIB;
	if (!size)
		size = (need + need / 4 + 4 * MIB + MIB - 1) & ~(MIB - 1);
	else if (size < need) {
		pr_err("--size %llu is too small for %s: it needs at least %llu bytes",
		       (unsigned long long)size, dir, (unsigned long long)need);
		return -ENOSPC;
	}

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", out) >= (int)sizeof(tmp)) {
		pr_err("%s: %s", out, strerror(ENAMETOOLONG));
		return -ENAMETOOLONG;
	}
	fd = mkstemp(tmp);
	if (fd < 0) {
		err = -errno;
		pr_err("cannot write %s: %s", out, strerror(errno));
		return err;
	}
	close(fd);
	snprintf(inodes, sizeof(inodes), "%llu", (unsigned long long)walk.inodes + 64);
	snprintf(sizek, sizeof(sizek), "%lluk", (unsigned long long)(size >> 10));
	{
		/* 4 KiB blocks whatever the size, no journal (images are small and
		 * rebuilt, not repaired), no reserved blocks, as many inodes as files */
		char *argv[] = { mkfs,
				 "-q",
				 "-F",
				 "-t",
				 "ext4",
				 "-b",
				 "4096",
				 "-N",
				 inodes,
				 "-m",
				 "0",
				 "-O",
				 "^has_journal",
				 "-L",
				 "vmsh",
				 "-E",
				 "root_owner=0:0",
				 "-d",
				 (char *)dir,
				 tmp,
				 sizek,
				 NULL };

		rc = spawn_wait(argv, -1);
	}
	if (rc) {
		pr_err("mkfs.ext4 failed (status %d) to make a %llu-byte image of %s%s", rc,
		       (unsigned long long)size, dir, rc > 0 ? ": is --size too small?" : "");
		err = rc < 0 ? rc : -EIO;
		goto fail;
	}
	if (walk.foreign_owner) {
		err = chown_root(dir, tmp, tmp);
		if (err)
			goto fail;
	}
	if (chmod(tmp, 0644) || rename(tmp, out)) {
		err = -errno;
		pr_err("cannot write %s: %s", out, strerror(errno));
		goto fail;
	}
	return 0;
fail:
	unlink(tmp);
	return err;
}

static int cmd_build(int argc, char **argv)
{
	static const struct option opts[] = { { "output", required_argument, NULL, 'o' },
					      { "size", required_argument, NULL, 's' },
					      { "help", no_argument, NULL, 'h' },
					      { 0 } };
	const char *out = NULL;
	uint64_t size = 0;
	int c;

	while ((c = getopt_long(argc, argv, "ho:s:", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			out = optarg;
			break;
		case 's':
			if (parse_size(optarg, &size) || !size) {
				pr_err("bad --size '%s' (bytes, or a number with K, M or G)",
				       optarg);
				return 2;
			}
			break;
		case 'h':
			usage_build(stdout);
			return 0;
		default:
			usage_build(stderr);
			return 2;
		}
	}
	if (optind != argc - 1 || !out) {
		usage_build(stderr);
		return 2;
	}
	return image_build(argv[optind], out, size) ? 1 : 0;
}

static int write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	ssize_t len = (ssize_t)strlen(text);

	if (fd < 0 || write(fd, text, (size_t)len) != len) {
		if (fd >= 0)
			close(fd);
		return -EIO;
	}
	return close(fd) ? -EIO : 0;
}

static int copy_file(const char *from, const char *to, mode_t mode)
{
	char buf[65536];
	ssize_t n = 0;
	int in = open(from, O_RDONLY | O_CLOEXEC), out = -1;

	if (in >= 0)
		out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	while (out >= 0 && (n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			n = -1;
	if (in >= 0)
		close(in);
	if (out < 0 || close(out) || n < 0)
		return -EIO;
	return 0;
}

/* The busybox tree: one symlink per applet from 'busybox --list-full'. */
static int make_tree(const char *busybox, const char *tree)
{
	static const struct {
		const char *dir;
		mode_t mode;
	} dirs[] = { { "bin", 0755 },	   { "sbin", 0755 },	    { "usr/bin", 0755 },
		     { "usr/sbin", 0755 }, { "proc", 0555 },	    { "sys", 0555 },
		     { "dev", 0755 },	   { "tmp", 01777 },	    { "etc", 0755 },
		     { "root", 0700 },	   { "var/lib/vmsh", 0755 } };
	char path[PATH_MAX], list[] = "/tmp/vmsh-applets.XXXXXX", line[512];
	int fd, rc, err = 0;
	FILE *f;

	for (size_t i = 0; i < ARRAY_SIZE(dirs) && !err; i++) {
		snprintf(path, sizeof(path), "%s/%s", tree, dirs[i].dir);
		err = util__mkdir_p(path, dirs[i].mode);
	}
	snprintf(path, sizeof(path), "%s/bin/busybox", tree);
	if (err || copy_file(busybox, path, 0755))
		goto io;
	snprintf(path, sizeof(path), "%s/etc/passwd", tree);
	if (write_file(path, "root:x:0:0:root:/root:/bin/sh\n", 0644))
		goto io;
	snprintf(path, sizeof(path), "%s/etc/group", tree);
	if (write_file(path, "root:x:0:\n", 0644))
		goto io;

	fd = mkstemp(list);
	if (fd < 0)
		goto io;
	unlink(list);
	{
		char *argv[] = { (char *)busybox, "--list-full", NULL };
		rc = spawn_wait(argv, fd);
	}
	if (rc) {
		pr_err("%s --list-full failed (status %d)", busybox, rc);
		close(fd);
		return -EIO;
	}
	lseek(fd, 0, SEEK_SET);
	f = fdopen(fd, "r");
	if (!f) {
		close(fd);
		goto io;
	}
	while (!err && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (!line[0] || line[0] == '/' || strstr(line, ".."))
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", tree, line) >= (int)sizeof(path))
			err = -ENAMETOOLONG;
		else if (symlink("/bin/busybox", path) && errno != EEXIST)
			err = -errno;
	}
	fclose(f);
	if (!err)
		return 0;
io:
	pr_err("cannot build the busybox tree in %s: %s", tree, strerror(err ? -err : EIO));
	return err ? err : -EIO;
}

static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return type == FTW_DP ? rmdir(path) : unlink(path), 0;
}

int image__default(char *path, size_t len, bool rebuild)
{
	const char *busybox = getenv("VMSH_BUSYBOX");
	char dir[PATH_MAX - 128], image[PATH_MAX], tree[PATH_MAX - 64];
	uint64_t hash = 0;
	int err;

	if (!busybox || !*busybox)
		busybox = "/bin/busybox";
	err = util__hash_file(busybox, &hash);
	if (err) {
		pr_err("cannot read %s (%s): install Debian's busybox-static", busybox,
		       strerror(-err));
		return err;
	}
	err = util__cache_dir(dir, sizeof(dir));
	if (err)
		return err;
	snprintf(image, sizeof(image), "%s/busybox-%016llx-v%d.ext4", dir, (unsigned long long)hash,
		 IMAGE_LAYOUT);
	if (strlen(image) >= len) {
		pr_err("%s: %s", image, strerror(ENAMETOOLONG));
		return -ENAMETOOLONG;
	}
	if (rebuild || access(image, R_OK)) {
		/* Private tree, atomic rename: concurrent builds never see half an image. */
		snprintf(tree, sizeof(tree), "%s/.tree.XXXXXX", dir);
		if (!mkdtemp(tree)) {
			err = -errno;
			pr_err("cannot create a directory in %s: %s", dir, strerror(errno));
			return err;
		}
		err = make_tree(busybox, tree);
		if (!err)
			err = image_build(tree, image, 0);
		nftw(tree, rm_entry, 32, FTW_DEPTH | FTW_PHYS);
		if (err)
			return err;
	}
	memcpy(path, image, strlen(image) + 1);
	return 0;
}

static int cmd_default(int argc, char **argv)
{
	static const struct option opts[] = { { "rebuild", no_argument, NULL, 'r' },
					      { "help", no_argument, NULL, 'h' },
					      { 0 } };
	char image[PATH_MAX];
	bool rebuild = false;
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			rebuild = true;
			break;
		case 'h':
			usage_default(stdout);
			return 0;
		default:
			usage_default(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage_default(stderr);
		return 2;
	}
	if (image__default(image, sizeof(image), rebuild))
		return 1;
	printf("%s\n", image);
	return 0;
}

/* Hidden, for tests: decode the stage2 status at OFFSET of a disk file. */
static int cmd_ctl_dump(int argc, char **argv)
{
	unsigned char buf[STAGE2_PROTO_SECTOR];
	struct stage2_status s;
	uint64_t off;
	ssize_t n;
	int fd, err;

	if (argc != 3 || parse_size(argv[2], &off)) {
		fprintf(stderr, "usage: vmsh image ctl-dump FILE OFFSET\n");
		return 2;
	}
	fd = open(argv[1], O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		pr_err("%s: %s", argv[1], strerror(errno));
		return 1;
	}
	n = pread(fd, buf, sizeof(buf), (off_t)off);
	close(fd);
	err = stage2_proto__decode(buf, n > 0 ? (size_t)n : 0, &s);
	if (err) {
		pr_err("no valid stage2 status at %s:%llu: %s", argv[1], (unsigned long long)off,
		       strerror(-err));
		return 1;
	}
	printf("state=%s\nseq=%u\npid=%u\nexit_status=%d\nerrno=%d\nstep=%s\nmsg=%s\n",
	       stage2_proto__state_name(s.state), s.seq, s.pid, s.exit_status, s.err, s.step,
	       s.msg);
	return 0;
}

int cmd_image(int argc, char **argv)
{
	optind = 1;
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "build"))
		return cmd_build(argc - 1, argv + 1);
	if (!strcmp(argv[1], "default"))
		return cmd_default(argc - 1, argv + 1);
	if (!strcmp(argv[1], "ctl-dump"))
		return cmd_ctl_dump(argc - 1, argv + 1);
	pr_err("unknown image command '%s'", argv[1]);
	usage(stderr);
	return 2;
}
