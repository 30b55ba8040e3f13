#ifndef OVERLAY_CSQUASHFS_SHIM_H
#define OVERLAY_CSQUASHFS_SHIM_H
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sqfs/compressor.h>
#include <sqfs/data_reader.h>
#include <sqfs/dir_reader.h>
#include <sqfs/error.h>
#include <sqfs/id_table.h>
#include <sqfs/inode.h>
#include <sqfs/io.h>
#include <sqfs/super.h>

/* A read-only sqfs_file_t over `size` bytes of an open file starting at `offset`: a squashfs image stored
   inside another file (a live ISO's LiveOS/squashfs.img) is read in place, without copying it out. The
   descriptor belongs to the caller, who keeps it open while the view is used. */
typedef struct {
    sqfs_file_t base;
    int fd;
    sqfs_u64 offset;
    sqfs_u64 size;
} csquashfs_view_t;

static void csquashfs_view_destroy(sqfs_object_t *object) { free(object); }

static sqfs_object_t *csquashfs_view_copy(const sqfs_object_t *object) {
    csquashfs_view_t *copy = malloc(sizeof(csquashfs_view_t));
    if (copy != NULL) memcpy(copy, object, sizeof(csquashfs_view_t));
    return (sqfs_object_t *)copy;
}

static int csquashfs_view_read_at(sqfs_file_t *file, sqfs_u64 offset, void *buffer, size_t size) {
    const csquashfs_view_t *view = (const csquashfs_view_t *)file;
    if (offset > view->size || size > view->size - offset) return SQFS_ERROR_OUT_OF_BOUNDS;
    char *at = buffer;
    while (size > 0) {
        ssize_t count = pread(view->fd, at, size, (off_t)(view->offset + offset));
        if (count < 0) {
            if (errno == EINTR) continue;
            return SQFS_ERROR_IO;
        }
        if (count == 0) return SQFS_ERROR_OUT_OF_BOUNDS;
        at += count;
        offset += (sqfs_u64)count;
        size -= (size_t)count;
    }
    return 0;
}

static int csquashfs_view_write_at(sqfs_file_t *file, sqfs_u64 offset, const void *buffer, size_t size) {
    (void)file; (void)offset; (void)buffer; (void)size;
    return SQFS_ERROR_UNSUPPORTED;
}

static sqfs_u64 csquashfs_view_get_size(const sqfs_file_t *file) { return ((const csquashfs_view_t *)file)->size; }

static int csquashfs_view_truncate(sqfs_file_t *file, sqfs_u64 size) {
    (void)file; (void)size;
    return SQFS_ERROR_UNSUPPORTED;
}

/* A new view, freed with sqfs_destroy; NULL when out of memory. */
static inline sqfs_file_t *csquashfs_view_new(int fd, sqfs_u64 offset, sqfs_u64 size) {
    csquashfs_view_t *view = calloc(1, sizeof(csquashfs_view_t));
    if (view == NULL) return NULL;
    view->base.base.destroy = csquashfs_view_destroy;
    view->base.base.copy = csquashfs_view_copy;
    view->base.read_at = csquashfs_view_read_at;
    view->base.write_at = csquashfs_view_write_at;
    view->base.get_size = csquashfs_view_get_size;
    view->base.truncate = csquashfs_view_truncate;
    view->fd = fd;
    view->offset = offset;
    view->size = size;
    return (sqfs_file_t *)view;
}

static inline void csquashfs_destroy(void *object) { sqfs_destroy(object); }

/* A decompressor for the image's compressor, with the options the image stores after its super block. */
static inline int csquashfs_compressor(const sqfs_super_t *super, sqfs_file_t *file, sqfs_compressor_t **out) {
    sqfs_compressor_config_t config;
    int status = sqfs_compressor_config_init(&config, (SQFS_COMPRESSOR)super->compression_id, super->block_size,
                                             SQFS_COMP_FLAG_UNCOMPRESS);
    if (status != 0) return status;
    status = sqfs_compressor_create(&config, out);
    if (status != 0) return status;
    if (super->flags & SQFS_FLAG_COMPRESSOR_OPTIONS) {
        status = (*out)->read_options(*out, file);
        if (status != 0) {
            sqfs_destroy(*out);
            *out = NULL;
        }
    }
    return status;
}

/* One inode's fields, out of the inode's type-specific union. */
typedef struct {
    /* The S_IF* type and permission bits. */
    unsigned int mode;
    unsigned int mtime;
    unsigned int inode_number;
    unsigned int nlink;
    unsigned long long file_size;
    unsigned int devno;
    /* For a symlink: its target (not NUL-terminated) and length. */
    const char *target;
    unsigned int target_size;
} csquashfs_inode_info_t;

static inline csquashfs_inode_info_t csquashfs_inode_info(const sqfs_inode_generic_t *inode) {
    csquashfs_inode_info_t info;
    memset(&info, 0, sizeof(info));
    unsigned int type = 0;
    switch (inode->base.type) {
    case SQFS_INODE_DIR: type = SQFS_INODE_MODE_DIR; info.nlink = inode->data.dir.nlink; break;
    case SQFS_INODE_EXT_DIR: type = SQFS_INODE_MODE_DIR; info.nlink = inode->data.dir_ext.nlink; break;
    case SQFS_INODE_FILE:
        type = SQFS_INODE_MODE_REG; info.nlink = 1; info.file_size = inode->data.file.file_size; break;
    case SQFS_INODE_EXT_FILE:
        type = SQFS_INODE_MODE_REG; info.nlink = inode->data.file_ext.nlink; info.file_size = inode->data.file_ext.file_size; break;
    case SQFS_INODE_SLINK:
        type = SQFS_INODE_MODE_LNK; info.nlink = inode->data.slink.nlink;
        info.target = (const char *)inode->extra; info.target_size = inode->data.slink.target_size; break;
    case SQFS_INODE_EXT_SLINK:
        type = SQFS_INODE_MODE_LNK; info.nlink = inode->data.slink_ext.nlink;
        info.target = (const char *)inode->extra; info.target_size = inode->data.slink_ext.target_size; break;
    case SQFS_INODE_BDEV: type = SQFS_INODE_MODE_BLK; info.nlink = inode->data.dev.nlink; info.devno = inode->data.dev.devno; break;
    case SQFS_INODE_EXT_BDEV: type = SQFS_INODE_MODE_BLK; info.nlink = inode->data.dev_ext.nlink; info.devno = inode->data.dev_ext.devno; break;
    case SQFS_INODE_CDEV: type = SQFS_INODE_MODE_CHR; info.nlink = inode->data.dev.nlink; info.devno = inode->data.dev.devno; break;
    case SQFS_INODE_EXT_CDEV: type = SQFS_INODE_MODE_CHR; info.nlink = inode->data.dev_ext.nlink; info.devno = inode->data.dev_ext.devno; break;
    case SQFS_INODE_FIFO: type = SQFS_INODE_MODE_FIFO; info.nlink = inode->data.ipc.nlink; break;
    case SQFS_INODE_EXT_FIFO: type = SQFS_INODE_MODE_FIFO; info.nlink = inode->data.ipc_ext.nlink; break;
    case SQFS_INODE_SOCKET: type = SQFS_INODE_MODE_SOCK; info.nlink = inode->data.ipc.nlink; break;
    case SQFS_INODE_EXT_SOCKET: type = SQFS_INODE_MODE_SOCK; info.nlink = inode->data.ipc_ext.nlink; break;
    default: break;
    }
    info.mode = type | (inode->base.mode & 07777);
    info.mtime = inode->base.mod_time;
    info.inode_number = inode->base.inode_number;
    return info;
}

/* The children of a tree node, as an array walk: the first child and each node's next sibling. */
static inline sqfs_tree_node_t *csquashfs_first_child(const sqfs_tree_node_t *node) { return node->children; }
static inline sqfs_tree_node_t *csquashfs_next_sibling(const sqfs_tree_node_t *node) { return node->next; }
static inline const char *csquashfs_node_name(const sqfs_tree_node_t *node) { return (const char *)node->name; }
#endif
