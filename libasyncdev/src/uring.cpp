// SPDX-License-Identifier: MIT
#include <asyncdev/error.h>
#include <asyncdev/uring.h>

#include "engine_core.h"
#include "forward_engine.h"

#include <cerrno>

#include <liburing.h>

namespace asyncdev {

namespace {
constexpr std::uint64_t cancel_tag = 0; // user_data of cancel SQEs; ids start at 1
}

class Uring::Impl final : public detail::EngineCore {
public:
    Impl(Loop& loop, unsigned depth) : EngineCore(loop, depth)
    {
        if (int rc = ::io_uring_queue_init(static_cast<unsigned>(this->depth()), &ring_, 0); rc < 0)
            throw_system_error(-rc, "io_uring_queue_init");
        if (int rc = ::io_uring_register_eventfd(&ring_, wake_fd()); rc < 0) {
            ::io_uring_queue_exit(&ring_);
            throw_system_error(-rc, "io_uring_register_eventfd");
        }
    }
    ~Impl() override
    {
        drain();
        ::io_uring_queue_exit(&ring_);
    }

private:
    using Request = detail::Request;

    struct io_uring_sqe* get_sqe()
    {
        struct io_uring_sqe* sqe = ::io_uring_get_sqe(&ring_);
        if (!sqe) { // SQ full of unsubmitted entries: push them out first
            enter();
            sqe = ::io_uring_get_sqe(&ring_);
        }
        return sqe;
    }

    void enter() noexcept
    {
        int rc;
        do
            rc = ::io_uring_submit(&ring_);
        while (rc == -EINTR);
        // Other errors (-EAGAIN, -EBUSY) leave the SQEs in the ring; they
        // go out with the next submit, made after the next reap.
    }

    void kernel_submit(std::span<Request* const> batch) override
    {
        for (Request* r : batch) {
            struct io_uring_sqe* sqe = get_sqe();
            if (!sqe)
                break; // stays queued
            const int fd = r->fd;
            const auto off = r->offset;
            switch (r->op) {
            case Request::Op::read:
                ::io_uring_prep_read(sqe, fd, r->buf, static_cast<unsigned>(r->len), off);
                break;
            case Request::Op::write:
                ::io_uring_prep_write(sqe, fd, r->buf, static_cast<unsigned>(r->len), off);
                break;
            case Request::Op::readv:
                ::io_uring_prep_readv(sqe, fd, r->iov.data(), static_cast<unsigned>(r->iov.size()), off);
                break;
            case Request::Op::writev:
                ::io_uring_prep_writev(sqe, fd, r->iov.data(), static_cast<unsigned>(r->iov.size()), off);
                break;
            }
            ::io_uring_sqe_set_data64(sqe, r->id);
            mark_in_kernel(*r);
        }
        enter();
    }

    void kernel_cancel(Request& r) noexcept override
    {
        struct io_uring_sqe* sqe = get_sqe();
        if (!sqe)
            return;
        ::io_uring_prep_cancel64(sqe, r.id, 0);
        ::io_uring_sqe_set_data64(sqe, cancel_tag);
        enter();
    }

    void reap(bool wait) override
    {
        if (::io_uring_sq_ready(&ring_) > 0)
            enter();
        if (wait) {
            struct io_uring_cqe* cqe;
            int rc;
            do
                rc = ::io_uring_wait_cqe(&ring_, &cqe);
            while (rc == -EINTR || rc == -EAGAIN);
            if (rc < 0)
                throw_system_error(-rc, "io_uring_wait_cqe");
        }
        struct io_uring_cqe* cqe;
        unsigned head, n = 0;
        io_uring_for_each_cqe(&ring_, head, cqe)
        {
            ++n;
            if (cqe->user_data != cancel_tag)
                complete(cqe->user_data, cqe->res);
        }
        ::io_uring_cq_advance(&ring_, n);
    }

    struct io_uring ring_{};
};

Uring::Uring(Loop& loop, unsigned depth) : impl_(std::make_unique<Impl>(loop, depth)) {}
Uring::~Uring() = default;

ASYNCDEV_FORWARD_ENGINE(Uring)
ASYNCDEV_FORWARD_VECTORED(Uring)

} // namespace asyncdev
