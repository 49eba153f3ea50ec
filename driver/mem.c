// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/asyncmem: seekable memory behind the simulated device engine.
 *
 * Like null_blk with memory_backed=1, an async request moves its data when
 * it is submitted (in the submitter's context, straight through the
 * caller's iterator) and completes after its service time from the engine's
 * timer. Without a device latency every request completes inline.
 *
 * O_DIRECT is accepted with a block device's alignment rules (512-byte
 * sectors: offset, every segment's address and length). Shared mappings
 * map the very pages read and write copy to and from, one page per fault,
 * so a store through a mapping is what the next read returns and the other
 * way round; private mappings are copy-on-write, as for a file.
 */
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

#include "asyncdev.h"
#include "rw.h"
#include "trace.h"

/* The sector size an O_DIRECT request must be aligned to. */
#define MEM_DIO_ALIGN	512

static bool mem_dio_misaligned(const struct kiocb *iocb,
			       const struct iov_iter *iter)
{
	return ((u64)iocb->ki_pos | iov_iter_alignment(iter)) &
	       (MEM_DIO_ALIGN - 1);
}

/*
 * Copy @n bytes at @pos between the device and @iter, page by page through
 * the device's pages as fs/pipe.c and shmem do: a copy from a vmalloc
 * address is checked by hardened usercopy (__check_object_size looks the
 * address up among the vmap areas, under a global lock on 6.1), a copy from
 * a page is not. The pages are the vmalloc area's own (no cache aliasing on
 * the architectures Debian builds this for). Returns the bytes copied.
 */
static size_t mem_copy_pages(struct adev_node *node, u64 pos, size_t n,
			     struct iov_iter *iter, bool write)
{
	size_t done = 0;

	while (done < n) {
		struct page *page = node->mem_pages[(pos + done) >> PAGE_SHIFT];
		size_t off = offset_in_page(pos + done);
		size_t want = min_t(size_t, n - done, PAGE_SIZE - off);
		size_t c = write ? copy_page_from_iter(page, off, want, iter) :
				   copy_page_to_iter(page, off, want, iter);

		done += c;
		if (c < want)
			break;
	}
	return done;
}

static ssize_t mem_copy(struct adev_node *node, struct kiocb *iocb,
			struct iov_iter *iter, bool write)
{
	loff_t pos = iocb->ki_pos;
	size_t n, c;

	if (pos < 0)
		return -EINVAL;
	if (pos >= node->mem_size)
		return write ? -ENOSPC : 0;
	n = min_t(u64, iov_iter_count(iter), node->mem_size - pos);
	c = mem_copy_pages(node, pos, n, iter, write);
	if (!c)
		return -EFAULT;
	iocb->ki_pos += c;
	if (write)
		adev_bad_written(node, pos, c);
	adev_stat_add(node, write ? ADEV_STAT_BYTES_WRITTEN :
				    ADEV_STAT_BYTES_READ, c);
	return c;
}

/*
 * Serve the request after its choices were drawn: inline (synchronous, or
 * no service time), or moved now and completed after its service time.
 */
static ssize_t mem_serve(struct adev_file *af, struct kiocb *iocb,
			 struct iov_iter *iter, bool write, u64 service_ns,
			 const struct adev_submit *sub)
{
	struct adev_node *node = af->node;
	struct adev_req *req;
	ssize_t ret;

	if (is_sync_kiocb(iocb) || !service_ns) {
		if (service_ns && (iocb->ki_flags & IOCB_NOWAIT))
			return -EAGAIN;
		ret = adev_engine_sleep(node, service_ns);
		if (!ret)
			ret = mem_copy(node, iocb, iter, write);
		if (ret > 0)
			adev_stat_add(node, write ? ADEV_STAT_WRITES :
						    ADEV_STAT_READS, 1);
		trace_asyncdev_done(node, sub, write, ret);
		return ret;
	}

	req = adev_req_alloc(af, iocb, write);
	if (IS_ERR(req))
		return PTR_ERR(req);
	adev_req_track(req, sub, iter);
	req->service_ns = service_ns;
	ret = mem_copy(node, iocb, iter, write);
	if (ret <= 0) {
		adev_req_free(req);
		trace_asyncdev_done(node, sub, write, ret);
		return ret;
	}
	/* Cancellable from here: adev_engine_submit() sees to it. */
	adev_stat_add(node, ADEV_STAT_ASYNC_QUEUED, 1);
	adev_engine_submit(req, ret);
	return -EIOCBQUEUED;
}

/* O_DIRECT wants a block device's alignment. */
static int mem_validate(struct kiocb *iocb, const struct iov_iter *iter)
{
	if ((iocb->ki_flags & IOCB_DIRECT) && mem_dio_misaligned(iocb, iter))
		return -EINVAL;
	return 0;
}

/* A request touching a bad range fails before any choice is drawn. */
static int mem_check(struct kiocb *iocb, size_t count, bool write)
{
	if (iocb->ki_pos < 0)
		return 0;
	return adev_bad_check(adev_node_of(iocb->ki_filp), iocb->ki_pos, count,
			      write);
}

static const struct adev_rw_ops mem_rw_ops = {
	.validate	= mem_validate,
	.check		= mem_check,
	.serve		= mem_serve,
};

static ssize_t mem_read_iter(struct kiocb *iocb, struct iov_iter *to)
{
	return adev_rw(iocb, to, false, &mem_rw_ops);
}

static ssize_t mem_write_iter(struct kiocb *iocb, struct iov_iter *from)
{
	return adev_rw(iocb, from, true, &mem_rw_ops);
}

static loff_t mem_llseek(struct file *file, loff_t offset, int whence)
{
	return generic_file_llseek_size(file, offset, whence, MAX_LFS_FILESIZE,
					adev_node_of(file)->mem_size);
}

static unsigned long mem_pages(const struct adev_node *node)
{
	return PAGE_ALIGN(node->mem_size) >> PAGE_SHIFT;
}

/*
 * Map the device page at the faulting offset; the mapping takes its own
 * reference on the page, which vfree at module exit leaves to it. A vma
 * grown by mremap past the device gets SIGBUS there, as past a file's end.
 */
static vm_fault_t mem_fault(struct vm_fault *vmf)
{
	struct adev_node *node = adev_node_of(vmf->vma->vm_file);
	struct page *page;

	if (vmf->pgoff >= mem_pages(node))
		return VM_FAULT_SIGBUS;
	page = node->mem_pages[vmf->pgoff];
	get_page(page);
	vmf->page = page;
	return 0;
}

static const struct vm_operations_struct mem_vm_ops = {
	.fault		= mem_fault,
};

/*
 * Any mapping within the device: EINVAL for one reaching past it (as
 * /dev/mem). The open mode is checked by mmap itself (EACCES). Faults
 * rather than remap_vmalloc_range, so that a mapping whose page table
 * entries were dropped (MADV_DONTNEED, fork) maps the device again.
 */
static int mem_mmap(struct file *file, struct vm_area_struct *vma)
{
	unsigned long pages = mem_pages(adev_node_of(file));

	if (vma->vm_pgoff >= pages || vma_pages(vma) > pages - vma->vm_pgoff)
		return -EINVAL;
	vma->vm_ops = &mem_vm_ops;
	return 0;
}

static int mem_open(struct inode *inode, struct file *file)
{
	int ret = adev_open_common(inode, file);

	if (!ret)
		adev_allow_odirect(file);
	return ret;
}

int adev_mem_init(struct adev_node *node, size_t size)
{
	unsigned long i, nr = PAGE_ALIGN(size) >> PAGE_SHIFT;

	/* Zeroed, and meant for user mappings (VM_USERMAP). */
	node->mem = vmalloc_user(size);
	if (!node->mem)
		return -ENOMEM;
	node->mem_pages = kvmalloc_array(nr, sizeof(*node->mem_pages),
					 GFP_KERNEL);
	if (!node->mem_pages) {
		vfree(node->mem);
		return -ENOMEM;
	}
	for (i = 0; i < nr; i++)
		node->mem_pages[i] = vmalloc_to_page(node->mem +
						     (i << PAGE_SHIFT));
	node->mem_size = size;
	return 0;
}

void adev_mem_exit(struct adev_node *node)
{
	kvfree(node->mem_pages);
	vfree(node->mem);
}

const struct file_operations adev_mem_fops = {
	.owner		= THIS_MODULE,
	.open		= mem_open,
	.flush		= adev_flush,
	.release	= adev_release_common,
	.read_iter	= mem_read_iter,
	.write_iter	= mem_write_iter,
	.llseek		= mem_llseek,
	.mmap		= mem_mmap,
	.unlocked_ioctl	= adev_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
};
