/* mount.c — a store image as one read-only tree: its unpacked layers stacked
 * with overlayfs (lower layers only, no upper: nothing is ever written to
 * them) into a detached mount in the parent, each layer held with a shared
 * flock for as long as the sandbox lives. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/util.h"
#include "image/image.h"

#define Q(buf, s) nc_quote((buf), sizeof(buf), (s))

/* Add the lower layers, topmost first: by fd (Linux 6.13+), by the fd's
 * /proc path with "lowerdir+" (6.8+), or all at once with "lowerdir". */
static int add_lowers(int fs, const int *fds, size_t n) {
  bool by_fd = true, append = true;
  char all[8192] = "";
  size_t o = 0;
  for (size_t k = n; k-- > 0;) {
    if (by_fd && fsconfig(fs, FSCONFIG_SET_FD, "lowerdir+", NULL, fds[k]) == 0) continue;
    if (by_fd && k != n - 1) return -errno; /* no mixing */
    by_fd = false;
    char p[64];
    snprintf(p, sizeof p, "/proc/self/fd/%d", fds[k]);
    if (append && fsconfig(fs, FSCONFIG_SET_STRING, "lowerdir+", p, 0) == 0) continue;
    if (append && k != n - 1) return -errno;
    append = false;
    o += (size_t)snprintf(all + o, sizeof all - o, "%s%s", o ? ":" : "", p);
    if (o >= sizeof all) return -E2BIG;
  }
  if (!by_fd && !append && fsconfig(fs, FSCONFIG_SET_STRING, "lowerdir", all, 0) < 0) return -errno;
  return 0;
}

static int overlay(const int *fds, size_t n, int *ret, nc_error *err) {
  int fs = fsopen("overlay", FSOPEN_CLOEXEC);
  if (fs < 0) return nc_error_sys(err, errno, "fsopen overlay (is the overlay module loaded? modprobe overlay)");
  int r = add_lowers(fs, fds, n);
  if (r < 0) {
    close(fs);
    return nc_error_sys(err, -r, "overlayfs: add the image's layers");
  }
  /* never follow redirects or metacopy xattrs: the layers carry none of ours */
  fsconfig(fs, FSCONFIG_SET_STRING, "redirect_dir", "nofollow", 0);
  fsconfig(fs, FSCONFIG_SET_STRING, "metacopy", "off", 0);
  if (fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
    int e = errno;
    char why[256] = "";
    ssize_t k = read(fs, why, sizeof why - 1); /* the kernel's own explanation, if it left one */
    why[k > 0 ? k : 0] = '\0';
    if (k > 0 && why[k - 1] == '\n') why[k - 1] = '\0';
    close(fs);
    return nc_error_sys(err, e, "create the overlay of the image's layers%s%s", why[0] ? ": " : "", why);
  }
  int mnt = fsmount(fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
  int e = errno;
  close(fs);
  if (mnt < 0) return nc_error_sys(err, e, "fsmount the image's overlay");
  *ret = mnt;
  return 0;
}

int nc_image_mount(const char *ref, const char *pinned, int *ret_mnt, int **ret_held, size_t *ret_n_held,
                   nc_error *err) {
  char q[600];
  *ret_mnt = -1;
  *ret_held = NULL;
  *ret_n_held = 0;
  if (geteuid() != 0)
    return nc_error_set(err, EPERM,
                        "image `%s`: running a store image needs root (its layers are stacked with overlayfs); "
                        "rootless, use --image DIR",
                        Q(q, ref));
  struct nc_image_entry e;
  struct nc_image_config cfg;
  int r = nc_image_load(ref, pinned, &e, &cfg, err);
  if (r < 0) return r;
  nc_image_config_free(&cfg);
  struct nc_store *s;
  /* the store lock (shared) keeps `image rm` out until our layer locks are taken */
  if ((r = nc_store_open(NULL, false, false, &s, err)) < 0) {
    nc_image_entry_clear(&e);
    return r;
  }
  size_t n = e.n_layers ? e.n_layers : 0;
  int *fds = calloc(n + 2, sizeof *fds);
  if (!fds) r = nc_error_set(err, ENOMEM, "image: out of memory");
  for (size_t i = 0; fds && i < n + 2; i++) fds[i] = -1;
  if (r == 0 && n == 0) r = nc_error_set(err, EINVAL, "image `%s` has no layers", Q(q, ref));
  size_t k = 0;
  for (; r == 0 && k < n; k++) {
    char path[96];
    snprintf(path, sizeof path, "layers/sha256/%s", e.layers[k] + 7);
    fds[k] = openat(nc_store_dirfd(s), path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (fds[k] < 0)
      r = nc_error_sys(err, errno, "image `%s`: layer %s in the store (%s)", Q(q, ref), e.layers[k], nc_store_root(s));
    else if (flock(fds[k], LOCK_SH) < 0)
      r = nc_error_sys(err, errno, "image `%s`: lock layer %s", Q(q, ref), e.layers[k]);
  }
  /* overlayfs wants two lower layers at least: an empty one under a single layer */
  if (r == 0 && n == 1) {
    if (mkdirat(nc_store_dirfd(s), "layers/empty", 0755) < 0 && errno != EEXIST)
      r = nc_error_sys(err, errno, "create `%s/layers/empty`", nc_store_root(s));
    else if ((fds[k] = openat(nc_store_dirfd(s), "layers/empty", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW)) < 0)
      r = nc_error_sys(err, errno, "open `%s/layers/empty`", nc_store_root(s));
    else
      k++;
  }
  if (r == 0) r = overlay(fds, k, ret_mnt, err);
  nc_store_close(s);
  nc_image_entry_clear(&e);
  if (r < 0) {
    for (size_t i = 0; fds && i < n + 2; i++) nc_closep(&fds[i]);
    free(fds);
    return r;
  }
  if (n == 1) nc_closep(&fds[1]);
  *ret_held = fds;
  *ret_n_held = n;
  return 0;
}
