/*
 * userfaultfd for the guest tests: memory whose first touch blocks until
 * the test resolves it, to hold a kernel copy at a chosen point.
 */
#ifndef ASYNCDEV_GUEST_UFFD_H
#define ASYNCDEV_GUEST_UFFD_H

#include "guest.h"

#include <linux/userfaultfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>

/* @pages anonymous pages registered (missing mode) with a new *@uffd. */
static inline char *uffd_pages(int *uffd, size_t pages)
{
	size_t len = pages * (size_t)sysconf(_SC_PAGESIZE);
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg;
	char *p;

	*uffd = (int)syscall(__NR_userfaultfd, O_CLOEXEC);
	if (*uffd < 0)
		fail_msg("userfaultfd: %s", strerror(errno));
	assert_int_equal(ioctl(*uffd, UFFDIO_API, &api), 0);
	p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(p != MAP_FAILED);
	reg.range.start = (unsigned long)p;
	reg.range.len = len;
	reg.mode = UFFDIO_REGISTER_MODE_MISSING;
	assert_int_equal(ioctl(*uffd, UFFDIO_REGISTER, &reg), 0);
	return p;
}

#endif
