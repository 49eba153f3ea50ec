// SPDX-License-Identifier: MIT
#include <asyncdev/aio_context.h>
#include <asyncdev/error.h>

#include "engine_core.h"
#include "forward_engine.h"

#include <cerrno>
#include <climits>

namespace asyncdev {

class AioContext::Impl final : public detail::EngineCore {
public:
    Impl(Loop& loop, unsigned depth) : EngineCore(loop, depth)
    {
        if (int rc = ::io_setup(static_cast<int>(this->depth()), &ctx_); rc < 0)
            throw_system_error(-rc, "io_setup");
    }
    ~Impl() override
    {
        if (loop_.forked())
            return; // the AIO context is the parent's (invalid in the child)
        drain();
        ::io_destroy(ctx_);
    }

private:
    using Request = detail::Request;

    void kernel_submit(std::span<Request* const> batch) override
    {
        std::vector<struct iocb*> iocbs;
        iocbs.reserve(batch.size());
        for (Request* r : batch) {
            struct iocb* cb = &r->u.iocb;
            const auto off = static_cast<long long>(r->offset);
            switch (r->op) {
            case Request::Op::read: io_prep_pread(cb, r->fd, r->buf, r->len, off); break;
            case Request::Op::write: io_prep_pwrite(cb, r->fd, r->buf, r->len, off); break;
            case Request::Op::readv:
                io_prep_preadv(cb, r->fd, r->iov.data(), static_cast<int>(r->iov.size()), off);
                break;
            case Request::Op::writev:
                io_prep_pwritev(cb, r->fd, r->iov.data(), static_cast<int>(r->iov.size()), off);
                break;
            }
            cb->data = reinterpret_cast<void*>(static_cast<std::uintptr_t>(r->id));
            io_set_eventfd(cb, wake_fd());
            iocbs.push_back(cb);
        }
        std::size_t done = 0;
        while (done < iocbs.size()) {
            const int rc = ::io_submit(ctx_, static_cast<long>(iocbs.size() - done),
                                       iocbs.data() + done);
            if (rc == -EINTR)
                continue;
            if (rc == -EAGAIN)
                return; // the rest stays queued
            if (rc < 0) {
                // io_submit reports the error of the first iocb it rejected.
                fail(*batch[done++], rc);
                continue;
            }
            for (int i = 0; i < rc; ++i)
                mark_in_kernel(*batch[done++]);
        }
    }

    void kernel_cancel(Request& r) noexcept override
    {
        struct io_event ev;
        // Since Linux 3.11 a successful cancel returns -EINPROGRESS and the
        // -ECANCELED event arrives through the ring like any completion;
        // -EINVAL/-EAGAIN: not cancellable, it completes normally.
        (void)::io_cancel(ctx_, &r.u.iocb, &ev);
    }

    void reap(bool wait) override
    {
        struct io_event events[64];
        struct timespec zero = {0, 0};
        for (;;) {
            const int n = ::io_getevents(ctx_, wait ? 1 : 0, 64, events, wait ? nullptr : &zero);
            if (n == -EINTR)
                continue;
            if (n < 0)
                throw_system_error(-n, "io_getevents");
            for (int i = 0; i < n; ++i)
                complete(reinterpret_cast<std::uintptr_t>(events[i].data),
                         static_cast<ssize_t>(static_cast<long>(events[i].res)));
            if (n < 64)
                return;
            wait = false;
        }
    }

    io_context_t ctx_ = nullptr;
};

AioContext::AioContext(Loop& loop, unsigned depth) : impl_(std::make_unique<Impl>(loop, depth)) {}
AioContext::~AioContext() = default;

std::unique_ptr<AioContext> AioContext::create(Loop& loop, unsigned depth, std::error_code& ec)
{
    ec.clear();
    try {
        return std::make_unique<AioContext>(loop, depth);
    } catch (const std::system_error& e) {
        ec = e.code();
    } catch (const std::bad_alloc&) {
        ec = std::make_error_code(std::errc::not_enough_memory);
    }
    return nullptr;
}

ASYNCDEV_FORWARD_ENGINE(AioContext)
ASYNCDEV_FORWARD_VECTORED(AioContext)

} // namespace asyncdev
