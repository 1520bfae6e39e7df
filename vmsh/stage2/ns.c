// SPDX-License-Identifier: GPL-2.0
/*
 * stage2's view of the guest: the vmsh disk and console, PID 1's namespaces
 * and credentials, and the private mount namespace whose root is the image.
 *
 * Two mount namespaces of our own are used. The first ("early view") is a
 * private copy of the usermode helper's namespace, where we mount what is
 * missing (/proc, /sys, /dev: after an initramfs and switch_root, a kernel
 * thread's root is the emptied initramfs) and create private device nodes;
 * nothing of it is ever visible to the guest. The second is a private copy
 * of PID 1's namespace, rooted at PID 1's root, where the image becomes / by
 * pivot_root (or, over an initramfs root, by a move and chroot) and the VM's
 * root is bound at /var/lib/vmsh.
 */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "stage2.h"

#define PROC_SUPER_MAGIC 0x9fa0
#define SYSFS_MAGIC 0x62656572
#define STAGING "/tmp"

static const char *const ns_names[NS_COUNT] = {
	"pid", "net", "uts", "ipc", "cgroup", "user", "mnt"
};
static const int ns_flags[NS_COUNT] = { CLONE_NEWPID,	 CLONE_NEWNET,	CLONE_NEWUTS, CLONE_NEWIPC,
					CLONE_NEWCGROUP, CLONE_NEWUSER, CLONE_NEWNS };

/* Directories we had to create in the helper's root, removed once we leave it. */
static const char *created[4];
static int ncreated, kroot_fd = -1;

static int is_fs(const char *path, long magic)
{
	struct statfs sf;

	return !statfs(path, &sf) && (long)sf.f_type == magic;
}

static void mount_here(struct stage2 *s, const char *dir, const char *type, unsigned long flags)
{
	if (mkdir(dir, 0755) == 0)
		created[ncreated++] = dir + 1;
	else if (errno != EEXIST)
		stage2__die(s, "mkdir-early", errno, "cannot create %s", dir);
	if (mount(type, dir, type, flags, NULL))
		stage2__die(s, "mount-early", errno, "cannot mount %s on %s", type, dir);
}

void ns__early_view(struct stage2 *s)
{
	kroot_fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
		stage2__die(s, "unshare-early", errno, "cannot make a private mount namespace");
	if (!is_fs("/proc", PROC_SUPER_MAGIC))
		mount_here(s, "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC);
	if (!is_fs("/sys", SYSFS_MAGIC))
		mount_here(s, "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC);
	if (access("/dev/null", F_OK))
		mount_here(s, "/dev", "devtmpfs", MS_NOSUID);
	s->kmsg_fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
	stage2__log(s, "started, disk %s", s->serial ? s->serial : "?");
	s->proc_fd = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (s->proc_fd < 0)
		stage2__die(s, "open-proc", errno, "cannot open /proc");
}

static int read_devnum(const char *path, dev_t *dev)
{
	unsigned int maj, min;
	char buf[32];

	if (stage2__read_file(AT_FDCWD, path, buf, sizeof(buf)) <= 0 ||
	    sscanf(buf, "%u:%u", &maj, &min) != 2)
		return -ENOENT;
	*dev = makedev(maj, min);
	return 0;
}

/*
 * The disk whose serial is S; it may still be probing: wait up to 5 s.
 * Only the disks under vmsh's own platform device (--device) are looked at:
 * reading a virtio disk's serial is a request to its device, and the device
 * of a vmsh that was killed is still in the guest with nobody serving it,
 * so that read would never return.
 */
static int find_disk(struct stage2 *s, dev_t *dev)
{
	struct timespec ts = { 0, 100 * 1000 * 1000 };
	char pdev[128], dir[256], path[300], buf[64];
	struct dirent *e;

	for (int tries = 0; tries < 50; tries++) {
		DIR *d = NULL;

		if (!s->device) {
			d = opendir("/sys/block");
		} else {
			/* .../virtio-mmio.ID/virtioN/block/vdX */
			snprintf(pdev, sizeof(pdev), "/sys/bus/platform/devices/%s", s->device);
			d = opendir(pdev);
			while (d && (e = readdir(d)) && strncmp(e->d_name, "virtio", 6))
				;
			if (d && e) {
				snprintf(dir, sizeof(dir), "%s/%.63s/block", pdev, e->d_name);
				closedir(d);
				d = opendir(dir);
			} else if (d) {
				closedir(d);
				d = NULL;
			}
		}
		while (d && (e = readdir(d))) {
			if (e->d_name[0] == '.' || strlen(e->d_name) > 200)
				continue;
			snprintf(path, sizeof(path), "/sys/block/%s/serial", e->d_name);
			if (stage2__read_file(AT_FDCWD, path, buf, sizeof(buf)) < 0 ||
			    strcmp(buf, s->serial))
				continue;
			snprintf(path, sizeof(path), "/sys/block/%s/dev", e->d_name);
			closedir(d);
			return read_devnum(path, dev);
		}
		if (d)
			closedir(d);
		nanosleep(&ts, NULL);
	}
	return -ENOENT;
}

/*
 * The console, unless --console names it: the hvc tty with the highest index
 * that opens. hvc registers hvc0..hvc7 up front (ENODEV until a backend
 * allocates one), and virtio_console allocates the lowest free index for each
 * new console port, so the newest virtio console (vmsh adds its device last)
 * is the highest allocated hvc, unless an older console was removed since.
 * sysfs links no hvc tty to its virtio port, so this is the best rule there is.
 */
static int open_console(struct stage2 *s)
{
	char path[64];
	dev_t dev;
	int fd;

	if (s->console)
		return open(s->console, O_RDWR | O_NOCTTY | O_CLOEXEC);
	for (int i = 7; i >= 0; i--) {
		snprintf(path, sizeof(path), "/sys/class/tty/hvc%d/dev", i);
		if (read_devnum(path, &dev))
			continue;
		snprintf(path, sizeof(path), STAGING "/hvc%d", i);
		if (mknod(path, S_IFCHR | 0600, dev))
			return -1;
		fd = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
		if (fd >= 0) {
			stage2__log(s, "console hvc%d", i);
			return fd;
		}
	}
	errno = ENODEV;
	return -1;
}

void ns__open_devices(struct stage2 *s)
{
	const char *blk = STAGING "/blk";
	dev_t dev;
	int err;

	if (!s->serial)
		return;
	/* Private nodes: a tmpfs of our own, in the early view. */
	mount_here(s, STAGING, "tmpfs", MS_NOSUID | MS_NOEXEC);
	err = find_disk(s, &dev);
	if (err)
		stage2__die(s, "find-disk", -err, "no disk with serial '%s'", s->serial);
	if (mknod(blk, S_IFBLK | 0600, dev))
		stage2__die(s, "mknod-disk", errno, "cannot create a node for the disk");
	s->blk_fd = open(blk, O_PATH | O_CLOEXEC);
	s->ctl_fd = open(blk, O_RDWR | O_DIRECT | O_SYNC | O_CLOEXEC);
	if (s->blk_fd < 0 || s->ctl_fd < 0)
		stage2__die(s, "open-disk", errno, "cannot open the disk");
	s->con_fd = open_console(s);
	if (s->con_fd < 0)
		stage2__die(s, "open-console", errno, "cannot open the console %s",
			    s->console ? s->console : "(no hvc tty opens)");
	/* The fds keep the nodes usable: let the staging tmpfs go. */
	umount2(STAGING, MNT_DETACH);
}

static uint64_t status_field(const char *status, const char *name, int base)
{
	const char *p = strstr(status, name);

	return p ? strtoull(p + strlen(name), NULL, base) : 0;
}

/* Map id (as the initial user namespace sees it) into PID 1's user namespace. */
static unsigned int map_id(struct stage2 *s, const char *file, unsigned int id)
{
	unsigned long in, out, count;
	char buf[4096], *line = buf;

	if (stage2__read_file(s->proc_fd, file, buf, sizeof(buf)) < 0)
		stage2__die(s, "read-idmap", errno, "cannot read /proc/%s", file);
	while (line && sscanf(line, "%lu %lu %lu", &in, &out, &count) == 3) {
		if (id >= out && id - out < count)
			return (unsigned int)(in + (id - out));
		line = strchr(line, '\n');
		line = line ? line + 1 : NULL;
	}
	stage2__die(s, "map-id", EINVAL, "PID 1's id %u is not mapped in its user namespace", id);
}

void ns__read_pid1(struct stage2 *s)
{
	char status[8192], path[32];
	struct stat mine, its;

	if (stage2__read_file(s->proc_fd, "1/status", status, sizeof(status)) < 0)
		stage2__die(s, "read-pid1", errno, "cannot read /proc/1/status");
	s->uid = (uid_t)status_field(status, "\nUid:", 10);
	s->gid = (gid_t)status_field(status, "\nGid:", 10);
	s->cap_inh = status_field(status, "\nCapInh:", 16);
	s->cap_eff = status_field(status, "\nCapEff:", 16);
	for (int i = 0; i < NS_COUNT; i++) {
		snprintf(path, sizeof(path), "1/ns/%s", ns_names[i]);
		if (fstatat(s->proc_fd, path, &its, 0)) {
			if (errno == ENOENT) /* a kernel without this namespace */
				continue;
			stage2__die(s, "read-ns", errno, "cannot stat /proc/%s", path);
		}
		snprintf(path, sizeof(path), "self/ns/%s", ns_names[i]);
		/* Our mount namespace is the early view: always enter PID 1's. */
		if (i != NS_MNT && !fstatat(s->proc_fd, path, &mine, 0) &&
		    mine.st_ino == its.st_ino && mine.st_dev == its.st_dev)
			continue;
		snprintf(path, sizeof(path), "1/ns/%s", ns_names[i]);
		s->ns_fd[i] = openat(s->proc_fd, path, O_RDONLY | O_CLOEXEC);
		if (s->ns_fd[i] < 0)
			stage2__die(s, "open-ns", errno, "cannot open /proc/%s", path);
	}
	if (s->ns_fd[NS_USER] >= 0) {
		s->uid = map_id(s, "1/uid_map", s->uid);
		s->gid = map_id(s, "1/gid_map", s->gid);
	}
	s->root1_fd = openat(s->proc_fd, "1/root", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (s->root1_fd < 0)
		stage2__die(s, "open-root", errno, "cannot open /proc/1/root");
}

static int try_mount(const char *src, const char *dir, const char *type, unsigned long flags,
		     int *err)
{
	if (!mount(src, dir, type, flags, NULL) ||
	    ((errno == EROFS || errno == EACCES) && !mount(src, dir, type, MS_RDONLY, NULL)))
		return 1;
	if (errno != EINVAL && errno != ENODEV && errno != ENOTBLK)
		*err = errno;
	return 0;
}

/* Mount the image on dir: ext4 first, then every block filesystem the kernel has. */
static void mount_image(struct stage2 *s, const char *dir)
{
	char fss[4096], src[32], *p = fss, *nl, *tab;
	const char *type = "ext4";
	int err = ENODEV;

	snprintf(src, sizeof(src), "self/fd/%d", s->blk_fd);
	if (stage2__read_file(s->proc_fd, "filesystems", fss, sizeof(fss)) < 0)
		fss[0] = '\0';
	/* The source resolves through our own procfs: PID 1's root may have none. */
	if (fchdir(s->proc_fd))
		stage2__die(s, "chdir-proc", errno, "cannot enter /proc");
	while (type) {
		if (try_mount(src, dir, type, s->read_only ? MS_RDONLY : 0, &err)) {
			stage2__log(s, "image mounted (%s)", type);
			if (chdir("/"))
				stage2__die(s, "chdir", errno, "cannot chdir /");
			return;
		}
		/* /proc/filesystems: "nodev\tproc" or "\text4", one a line */
		for (type = NULL; !type && p && *p; p = nl ? nl + 1 : NULL) {
			nl = strchr(p, '\n');
			if (nl)
				*nl = '\0';
			tab = strchr(p, '\t');
			if (tab && strncmp(p, "nodev", 5) && strcmp(tab + 1, "ext4"))
				type = tab + 1;
		}
	}
	stage2__die(s, "mount-image", err, "no filesystem of this kernel mounts the image");
}

static void image_dir(struct stage2 *s, const char *root, const char *sub)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/%s", root, sub);
	if (mkdir(path, 0755) && errno != EEXIST)
		stage2__die(s, "mkdir-image", errno,
			    "the image has no /%s and it cannot be created", sub);
}

/* /sys and /dev: the VM's own, or fresh ones where PID 1's root has none. */
static void bind_vm_dir(struct stage2 *s, const char *name, const char *type, long magic)
{
	char src[64], dst[16];

	snprintf(src, sizeof(src), "/var/lib/vmsh/%s", name);
	snprintf(dst, sizeof(dst), "/%s", name);
	if (mount(src, dst, NULL, MS_BIND | MS_REC, NULL) && errno != ENOENT)
		stage2__die(s, "bind", errno, "cannot bind the VM's %s", dst);
	if ((magic ? !is_fs(dst, magic) : access("/dev/null", F_OK)) &&
	    mount(type, dst, type, MS_NOSUID, NULL))
		stage2__die(s, "mount", errno, "cannot mount %s on %s", type, dst);
}

/*
 * The image (mounted on the cwd) becomes the root. pivot_root(".", "."):
 * the old root ends up on top of the new one, and goes. The initial rootfs
 * (a guest whose root is its initramfs) cannot be pivoted (EINVAL), nor can
 * a root that is not a mount point: there, as switch_root does, the image's
 * mount moves over / and we chroot into it. Same view for CMD; the VM's root
 * stays under the image in this private namespace (DESIGN.md).
 */
static void make_image_root(struct stage2 *s)
{
	if (!syscall(SYS_pivot_root, ".", ".")) {
		if (umount2(".", MNT_DETACH))
			stage2__die(s, "pivot-root", errno, "cannot detach the VM's root");
	} else if (errno == EINVAL) {
		if (mount(".", "/", NULL, MS_MOVE, NULL))
			stage2__die(s, "move-root", errno, "cannot move the image over /");
		if (chroot("."))
			stage2__die(s, "chroot-image", errno, "cannot chroot into the image");
		stage2__log(s, "the VM's root cannot be pivoted (initramfs): image moved over it");
	} else {
		stage2__die(s, "pivot-root", errno, "cannot make the image the root");
	}
	if (chdir("/"))
		stage2__die(s, "chdir", errno, "cannot chdir /");
}

void ns__build_root(struct stage2 *s)
{
	static const char *const dirs[] = { "/mnt", "/tmp",  "/run",  "/media", "/opt",
					    "/srv", "/home", "/root", "/var",	"/etc" };
	const char *dir = NULL;
	char path[128];
	struct stat st;

	if (setns(s->ns_fd[NS_MNT], CLONE_NEWNS))
		stage2__die(s, "setns-mnt", errno, "cannot enter PID 1's mount namespace");
	/* The early view is gone with its mounts: remove what we created for it. */
	while (ncreated > 0)
		unlinkat(kroot_fd, created[--ncreated], AT_REMOVEDIR);
	if (fchdir(s->root1_fd) || chroot(".") || chdir("/"))
		stage2__die(s, "chroot", errno, "cannot enter PID 1's root");
	if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
		stage2__die(s, "unshare", errno, "cannot make a private mount namespace");
	/* Any directory will do: it is covered only here, and uncovered below. */
	for (size_t i = 0; i < ARRAY_LEN(dirs) && !dir; i++)
		if (!lstat(dirs[i], &st) && S_ISDIR(st.st_mode))
			dir = dirs[i];
	if (!dir)
		stage2__die(s, "mountpoint", ENOENT,
			    "the VM's root has none of /mnt /tmp /var /etc");
	mount_image(s, dir);
	image_dir(s, dir, "var");
	image_dir(s, dir, "var/lib");
	image_dir(s, dir, "var/lib/vmsh");
	image_dir(s, dir, "proc");
	image_dir(s, dir, "sys");
	image_dir(s, dir, "dev");
	snprintf(path, sizeof(path), "%s/var/lib/vmsh", dir);
	if (mount("/", path, NULL, MS_BIND | MS_REC, NULL))
		stage2__die(s, "bind-root", errno, "cannot bind the VM's root");
	if (chdir(dir))
		stage2__die(s, "chdir-image", errno, "cannot enter the image");
	make_image_root(s);
	snprintf(path, sizeof(path), "/var/lib/vmsh%s", dir);
	if (umount2(path, MNT_DETACH))
		stage2__die(s, "uncover", errno, "cannot uncover the VM's %s", dir);
	bind_vm_dir(s, "sys", "sysfs", SYSFS_MAGIC);
	bind_vm_dir(s, "dev", "devtmpfs", 0);
	if (s->ns_fd[NS_PID] >= 0 && setns(s->ns_fd[NS_PID], CLONE_NEWPID))
		stage2__die(s, "setns-pid", errno, "cannot enter PID 1's pid namespace");
	stage2__log(s, "root ready");
}

#define CAP_V3 0x20080522
struct cap_header {
	uint32_t version;
	int pid;
};
struct cap_data {
	uint32_t effective, permitted, inheritable;
};

/* Bounding set: PID 1's effective set (or nothing); inheritable and ambient likewise. */
static int set_caps(struct stage2 *s)
{
	uint64_t keep = s->caps_none ? 0 : s->cap_eff;
	struct cap_header h = { CAP_V3, 0 };
	struct cap_data d[2];
	char buf[16];
	int last = 40;

	if (stage2__read_file(s->proc_fd, "sys/kernel/cap_last_cap", buf, sizeof(buf)) > 0)
		last = atoi(buf);
	for (int c = 0; c <= last && c < 64; c++)
		if (!(keep >> c & 1) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) && errno != EINVAL)
			return -1;
	/* The usermode helper's inheritable set is full: exec would keep it all. */
	if (syscall(SYS_capget, &h, d))
		return -1;
	keep &= s->cap_inh;
	d[0].inheritable = (uint32_t)keep;
	d[1].inheritable = (uint32_t)(keep >> 32);
	if (syscall(SYS_capset, &h, d))
		return -1;
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) && errno != EINVAL)
		return -1;
	return 0;
}

int ns__enter_child(struct stage2 *s, const char **step)
{
	static char steps[NS_COUNT][16];

	*step = "mount-proc";
	/* In PID 1's pid namespace now: this procfs shows the guest's processes. */
	if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL))
		return -1;
	for (int i = 0; i < NS_MNT; i++) {
		if (i == NS_PID || s->ns_fd[i] < 0)
			continue;
		snprintf(steps[i], sizeof(steps[i]), "setns-%s", ns_names[i]);
		*step = steps[i];
		if (setns(s->ns_fd[i], ns_flags[i]))
			return -1;
	}
	*step = "caps";
	if (set_caps(s))
		return -1;
	*step = "setgroups";
	if (setgroups(0, NULL) && !(errno == EPERM && s->ns_fd[NS_USER] >= 0))
		return -1;
	*step = "setuid";
	if (setgid(s->gid) || setuid(s->uid))
		return -1;
	return 0;
}
