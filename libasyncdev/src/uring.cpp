// SPDX-License-Identifier: MIT
#include <asyncdev/error.h>
#include <asyncdev/uring.h>

#include "engine_core.h"
#include "forward_engine.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <stdexcept>
#include <thread>

#include <liburing.h>

namespace asyncdev {

namespace {
constexpr std::uint64_t cancel_tag = 0; // user_data of cancel SQEs; ids start at 1
/// user_data of a linked timeout: its request's id with the top bit set
/// (ids count up from 1 and never get there).
constexpr std::uint64_t timeout_bit = std::uint64_t{1} << 63;
/// The most one read or write moves (Linux's MAX_RW_COUNT with 4 KiB
/// pages); also fits io_uring's 32-bit length. Longer requests are short.
constexpr std::size_t max_rw = 0x7ffff000;
/// IORING_MAX_ENTRIES: the most SQ entries io_uring_queue_init accepts.
constexpr std::size_t max_entries = 32768;
/// Delay before retrying an io_uring_submit the kernel refused.
constexpr std::chrono::milliseconds submit_retry{1};
} // namespace

class Uring::Impl final : public detail::EngineCore {
public:
    Impl(Loop& loop, unsigned depth)
        : EngineCore(loop, depth), retry_(loop, [this](std::uint64_t) {
              retry_armed_ = false;
              process(); // reaps, then pushes what is left in the SQ ring
          })
    {
        // Two SQEs per request (an operation and its linked timeout) up to
        // io_uring's 32768 entries; beyond, pairs wait for space.
        const std::size_t d = this->depth();
        const auto sq = static_cast<unsigned>(d <= max_entries / 2 ? 2 * d : d);
        if (int rc = ::io_uring_queue_init(sq, &ring_, 0); rc < 0)
            throw_system_error(-rc, "io_uring_queue_init");
        if (int rc = ::io_uring_register_eventfd(&ring_, wake_fd()); rc < 0) {
            ::io_uring_queue_exit(&ring_);
            throw_system_error(-rc, "io_uring_register_eventfd");
        }
    }
    ~Impl() override
    {
        // In a forked child the ring's requests are the parent's: cancelling
        // them through the shared ring would cancel the parent's I/O. Only
        // this process's mappings and fd go.
        if (!loop_.forked())
            drain();
        ::io_uring_queue_exit(&ring_);
    }

    void set_timeout(RequestId id, std::chrono::nanoseconds timeout)
    {
        if (timeout.count() <= 0)
            throw std::invalid_argument("asyncdev::Uring: timeout must be > 0");
        Request* r = find(id);
        r->has_timeout = true;
        r->ts.tv_sec = timeout.count() / 1'000'000'000;
        r->ts.tv_nsec = timeout.count() % 1'000'000'000;
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

    /// Pushes every SQE of the ring to the kernel; false if some remain
    /// (io_uring_submit failed: -EAGAIN, -EBUSY, ...). The SQEs stay in
    /// the ring and go with the next successful io_uring_submit.
    bool flush() noexcept
    {
        while (::io_uring_sq_ready(&ring_) > 0) {
            const int rc = ::io_uring_submit(&ring_);
            if (rc == -EINTR)
                continue;
            if (rc <= 0)
                return false;
        }
        return true;
    }

    /// flush(), and if the kernel refused, a retry in a later loop turn
    /// (after reaping: -EBUSY asks for that) so that requests marked in
    /// flight reach the kernel without another submit() from the user.
    void enter() noexcept
    {
        if (!flush())
            arm_retry();
    }

    void arm_retry() noexcept
    {
        if (retry_armed_)
            return;
        try {
            retry_.start(submit_retry);
            retry_armed_ = true;
        } catch (...) {
            kick(); // no timer: retry in the next loop batch instead
        }
    }

    void kernel_submit(std::span<Request* const> batch) override
    {
        for (Request* r : batch) {
            if (r->has_timeout && ::io_uring_sq_space_left(&ring_) < 2) {
                enter(); // the pair must go in one submission
                if (::io_uring_sq_space_left(&ring_) < 2)
                    break; // stays queued
            }
            struct io_uring_sqe* sqe = get_sqe();
            if (!sqe)
                break; // stays queued
            const int fd = r->fd;
            const auto off = r->offset;
            switch (r->op) {
            case Request::Op::read:
                ::io_uring_prep_read(sqe, fd, r->buf, rw_len(*r), off);
                break;
            case Request::Op::write:
                ::io_uring_prep_write(sqe, fd, r->buf, rw_len(*r), off);
                break;
            case Request::Op::readv:
                ::io_uring_prep_readv(sqe, fd, r->iov.data(), static_cast<unsigned>(r->iov.size()), off);
                break;
            case Request::Op::writev:
                ::io_uring_prep_writev(sqe, fd, r->iov.data(), static_cast<unsigned>(r->iov.size()), off);
                break;
            }
            ::io_uring_sqe_set_data64(sqe, r->id);
            if (r->has_timeout) {
                sqe->flags |= IOSQE_IO_LINK;
                struct io_uring_sqe* tsqe = ::io_uring_get_sqe(&ring_); // space checked above
                ::io_uring_prep_link_timeout(tsqe, &r->ts, 0);
                ::io_uring_sqe_set_data64(tsqe, r->id | timeout_bit);
            }
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
        flush();
        if (wait) {
            // Wait only once everything is in the kernel: a CQE for an SQE
            // still in the ring never comes.
            while (::io_uring_cq_ready(&ring_) == 0) {
                if (!flush()) {
                    std::this_thread::sleep_for(submit_retry);
                    continue;
                }
                struct io_uring_cqe* cqe;
                const int rc = ::io_uring_wait_cqe(&ring_, &cqe);
                if (rc == 0)
                    break;
                if (rc != -EINTR && rc != -EAGAIN)
                    throw_system_error(-rc, "io_uring_wait_cqe");
            }
        }
        struct io_uring_cqe* cqe;
        unsigned head, n = 0;
        io_uring_for_each_cqe(&ring_, head, cqe)
        {
            ++n;
            if (cqe->user_data != cancel_tag)
                on_cqe(cqe->user_data, cqe->res);
        }
        ::io_uring_cq_advance(&ring_, n);
        enter(); // after reaping: what -EBUSY waited for
    }

    /// A request with a linked timeout completes once both of its CQEs
    /// are in; cancelled by its timeout, it reports -ETIMEDOUT.
    void on_cqe(std::uint64_t data, int res) noexcept
    {
        const RequestId id = data & ~timeout_bit;
        Request* r = find(id);
        if (!r || !r->has_timeout) {
            complete(id, res);
            return;
        }
        if (data & timeout_bit) {
            r->timeout_cqe = true;
            r->timed_out = res == -ETIME;
        } else {
            r->op_cqe = true;
            r->res = res;
        }
        if (r->op_cqe && r->timeout_cqe)
            complete(id, r->timed_out && r->res == -ECANCELED ? -ETIMEDOUT : r->res);
    }

    static unsigned rw_len(const Request& r) noexcept
    {
        return static_cast<unsigned>(std::min(r.len, max_rw));
    }

    struct io_uring ring_{};
    Timer retry_; // flush() retries while the kernel refuses SQEs
    bool retry_armed_ = false;
};

Uring::Uring(Loop& loop, unsigned depth) : impl_(std::make_unique<Impl>(loop, depth)) {}
Uring::~Uring() = default;

RequestId Uring::read(int fd, std::span<std::byte> buf, std::uint64_t off, Completion cb,
                      std::chrono::nanoseconds timeout)
{
    if (timeout.count() <= 0)
        throw std::invalid_argument("asyncdev::Uring::read: timeout must be > 0");
    const RequestId id = read(fd, buf, off, std::move(cb));
    impl_->set_timeout(id, timeout);
    return id;
}

RequestId Uring::write(int fd, std::span<const std::byte> buf, std::uint64_t off, Completion cb,
                       std::chrono::nanoseconds timeout)
{
    if (timeout.count() <= 0)
        throw std::invalid_argument("asyncdev::Uring::write: timeout must be > 0");
    const RequestId id = write(fd, buf, off, std::move(cb));
    impl_->set_timeout(id, timeout);
    return id;
}

std::unique_ptr<Uring> Uring::create(Loop& loop, unsigned depth, std::error_code& ec)
{
    loop.check_loop_thread("asyncdev::Uring::create");
    ec.clear();
    try {
        return std::make_unique<Uring>(loop, depth);
    } catch (const std::system_error& e) {
        ec = e.code();
    }
    return nullptr;
}

ASYNCDEV_FORWARD_ENGINE(Uring)
ASYNCDEV_FORWARD_VECTORED(Uring)

} // namespace asyncdev
