// SPDX-License-Identifier: MIT
#include <asyncdev/error.h>
#include <asyncdev/uring.h>

#include "engine_core.h"
#include "forward_engine.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
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

namespace detail {
/// What is registered with a ring and how many requests use it. A base of
/// Uring::Impl declared before EngineCore, so that it outlives the requests
/// (destroyed in ~EngineCore; their UseCount shares decrement these).
struct UringRegistry {
    std::size_t files = 0;      ///< registered file slots; 0: none
    std::vector<iovec> buffers; ///< the registered buffers; empty: none
    std::size_t file_users = 0; ///< live requests with fixed_file
    std::size_t buffer_users = 0; ///< live requests with buf_index >= 0
};
} // namespace detail

class Uring::Impl final : private detail::UringRegistry, public detail::EngineCore {
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

    /// A prepared request on a registered file and/or into a registered
    /// buffer (buf_index >= 0), with a linked timeout if `timeout` > 0;
    /// the preconditions were checked by the caller (check_fixed), so
    /// nothing here throws after prepare() but std::bad_alloc from it.
    RequestId prepare_fixed(detail::Request::Op op, bool fixed_file, int fd, int buf_index,
                            void* buf, std::size_t len, std::span<const iovec> iov,
                            std::uint64_t off, Completion done, std::chrono::nanoseconds timeout)
    {
        const RequestId id = prepare(op, fd, buf, len, iov, off, std::move(done));
        Request* r = find(id);
        if (fixed_file) {
            r->fixed_file = true;
            r->file_use = detail::UseCount(file_users);
        }
        if (buf_index >= 0) {
            r->buf_index = buf_index;
            r->buf_use = detail::UseCount(buffer_users);
        }
        if (timeout.count() > 0)
            set_timeout(id, timeout);
        return id;
    }

    /// Every precondition of a fixed form, checked before anything is
    /// prepared: the thread, the timeout (>= 0; 0: none), the file index
    /// (if `file`) and the buffer index and span (if `reg`).
    void check_fixed(const char* call, std::chrono::nanoseconds timeout,
                     std::optional<FixedFile> file, std::optional<FixedBuffer> reg = {},
                     const void* p = nullptr, std::size_t n = 0) const
    {
        check_thread(call);
        if (timeout.count() < 0)
            throw std::invalid_argument(std::string(call) + ": negative timeout");
        if (file)
            check_file(*file, call);
        if (reg)
            check_buffer(*reg, p, n, call);
    }

    /// Preconditions of a request on a registered file / into a registered
    /// buffer; the caller has checked the thread (check_thread below).
    void check_file(FixedFile f, const char* call) const
    {
        if (f.index >= files)
            throw std::out_of_range(std::string(call) + ": registered file " +
                                    std::to_string(f.index) + " out of range (" +
                                    std::to_string(files) + " registered)");
    }

    void check_buffer(FixedBuffer b, const void* p, std::size_t n, const char* call) const
    {
        if (b.index >= buffers.size())
            throw std::out_of_range(std::string(call) + ": registered buffer " +
                                    std::to_string(b.index) + " out of range (" +
                                    std::to_string(buffers.size()) + " registered)");
        const iovec& v = buffers[b.index];
        const auto lo = reinterpret_cast<std::uintptr_t>(v.iov_base);
        const auto hi = lo + v.iov_len;
        const auto a = reinterpret_cast<std::uintptr_t>(p);
        if (a < lo || a > hi || n > hi - a) {
            char msg[200];
            std::snprintf(msg, sizeof msg,
                          "%s: the span [%p, +%zu) is not inside registered buffer %u "
                          "[%p, +%zu)",
                          call, p, n, b.index, v.iov_base, v.iov_len);
            throw std::invalid_argument(msg);
        }
    }

    void register_files(std::span<const int> fds, std::error_code& ec)
    {
        static constexpr const char* call = "asyncdev::Uring::register_files";
        loop_.check_loop_thread(call);
        if (files > 0)
            throw std::logic_error(std::string(call) +
                                   ": files are already registered (unregister_files first)");
        if (fds.empty())
            throw std::invalid_argument(std::string(call) + ": no fds");
        if (fds.size() > std::numeric_limits<unsigned>::max())
            throw std::invalid_argument(std::string(call) + ": too many fds");
        ec.clear();
        const int rc = ::io_uring_register_files(&ring_, fds.data(),
                                                 static_cast<unsigned>(fds.size()));
        if (rc < 0)
            ec.assign(-rc, std::system_category());
        else
            files = fds.size();
    }

    /// Loop::check_loop_thread's test in a load and a compare (this runs
    /// per request, and prepare() makes the full check once more): the
    /// thread that built the Uring is the loop thread (EngineCore watched
    /// an fd there).
    void check_thread(const char* call) const
    {
        if (std::this_thread::get_id() != owner_ || loop_.forked())
            loop_.check_loop_thread(call); // throws, naming the cause
    }

    void update_file(FixedFile slot, int fd, std::error_code& ec)
    {
        check_thread("asyncdev::Uring::update_file");
        check_file(slot, "asyncdev::Uring::update_file");
        ec.clear();
        int rc = ::io_uring_register_files_update(&ring_, slot.index, &fd, 1);
        if (rc == 0)
            rc = -EIO; // "0 of 1 updated": not documented to happen
        if (rc < 0)
            ec.assign(-rc, std::system_category());
    }

    void unregister_files()
    {
        static constexpr const char* call = "asyncdev::Uring::unregister_files";
        loop_.check_loop_thread(call);
        if (files == 0)
            throw std::logic_error(std::string(call) + ": no files are registered");
        if (file_users > 0)
            throw std::logic_error(std::string(call) + ": " + std::to_string(file_users) +
                                   " request(s) still use the registered files");
        if (int rc = ::io_uring_unregister_files(&ring_); rc < 0)
            throw_system_error(-rc, "io_uring_unregister_files");
        files = 0;
    }

    std::size_t registered_files() const noexcept { return files; }

    void register_buffers(std::span<const iovec> bufs, std::error_code& ec)
    {
        static constexpr const char* call = "asyncdev::Uring::register_buffers";
        loop_.check_loop_thread(call);
        if (!buffers.empty())
            throw std::logic_error(std::string(call) +
                                   ": buffers are already registered (unregister_buffers first)");
        if (bufs.empty())
            throw std::invalid_argument(std::string(call) + ": no buffers");
        if (bufs.size() > std::numeric_limits<unsigned>::max())
            throw std::invalid_argument(std::string(call) + ": too many buffers");
        std::vector<iovec> copy(bufs.begin(), bufs.end());
        ec.clear();
        const int rc = ::io_uring_register_buffers(&ring_, copy.data(),
                                                   static_cast<unsigned>(copy.size()));
        if (rc < 0)
            ec.assign(-rc, std::system_category());
        else
            buffers = std::move(copy);
    }

    void unregister_buffers()
    {
        static constexpr const char* call = "asyncdev::Uring::unregister_buffers";
        loop_.check_loop_thread(call);
        if (buffers.empty())
            throw std::logic_error(std::string(call) + ": no buffers are registered");
        if (buffer_users > 0)
            throw std::logic_error(std::string(call) + ": " + std::to_string(buffer_users) +
                                   " request(s) still use the registered buffers");
        if (int rc = ::io_uring_unregister_buffers(&ring_); rc < 0)
            throw_system_error(-rc, "io_uring_unregister_buffers");
        buffers.clear();
    }

    std::size_t registered_buffers() const noexcept { return buffers.size(); }

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
                if (r->buf_index >= 0)
                    ::io_uring_prep_read_fixed(sqe, fd, r->buf, rw_len(*r), off, r->buf_index);
                else
                    ::io_uring_prep_read(sqe, fd, r->buf, rw_len(*r), off);
                break;
            case Request::Op::write:
                if (r->buf_index >= 0)
                    ::io_uring_prep_write_fixed(sqe, fd, r->buf, rw_len(*r), off, r->buf_index);
                else
                    ::io_uring_prep_write(sqe, fd, r->buf, rw_len(*r), off);
                break;
            case Request::Op::readv:
                ::io_uring_prep_readv(sqe, fd, r->iov.data(), static_cast<unsigned>(r->iov.size()), off);
                break;
            case Request::Op::writev:
                ::io_uring_prep_writev(sqe, fd, r->iov.data(), static_cast<unsigned>(r->iov.size()), off);
                break;
            }
            if (r->fixed_file)
                sqe->flags |= IOSQE_FIXED_FILE;
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
    const std::thread::id owner_ = std::this_thread::get_id(); // see check_thread()
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

void Uring::register_files(std::span<const int> fds)
{
    std::error_code ec;
    impl_->register_files(fds, ec);
    if (ec)
        throw_system_error(ec.value(), "io_uring_register_files");
}

void Uring::register_files(std::span<const int> fds, std::error_code& ec)
{
    impl_->register_files(fds, ec);
}

void Uring::update_file(FixedFile slot, int fd)
{
    std::error_code ec;
    impl_->update_file(slot, fd, ec);
    if (ec)
        throw_system_error(ec.value(), "io_uring_register_files_update");
}

void Uring::update_file(FixedFile slot, int fd, std::error_code& ec)
{
    impl_->update_file(slot, fd, ec);
}

void Uring::unregister_files() { impl_->unregister_files(); }
std::size_t Uring::registered_files() const noexcept { return impl_->registered_files(); }

void Uring::register_buffers(std::span<const iovec> bufs)
{
    std::error_code ec;
    impl_->register_buffers(bufs, ec);
    if (ec)
        throw_system_error(ec.value(), "io_uring_register_buffers");
}

void Uring::register_buffers(std::span<const iovec> bufs, std::error_code& ec)
{
    impl_->register_buffers(bufs, ec);
}

void Uring::unregister_buffers() { impl_->unregister_buffers(); }
std::size_t Uring::registered_buffers() const noexcept { return impl_->registered_buffers(); }

namespace {
using Op = detail::Request::Op;
int file_fd(Uring::FixedFile f) noexcept { return static_cast<int>(f.index); }
int buf_index(Uring::FixedBuffer b) noexcept { return static_cast<int>(b.index); }
std::byte* mut(const std::byte* p) noexcept { return const_cast<std::byte*>(p); }
} // namespace

RequestId Uring::read(FixedFile file, std::span<std::byte> buf, std::uint64_t off, Completion cb,
                      std::chrono::nanoseconds timeout)
{
    impl_->check_fixed("asyncdev::Uring::read", timeout, file);
    return impl_->prepare_fixed(Op::read, true, file_fd(file), -1, buf.data(), buf.size(), {},
                                off, std::move(cb), timeout);
}

RequestId Uring::write(FixedFile file, std::span<const std::byte> buf, std::uint64_t off,
                       Completion cb, std::chrono::nanoseconds timeout)
{
    impl_->check_fixed("asyncdev::Uring::write", timeout, file);
    return impl_->prepare_fixed(Op::write, true, file_fd(file), -1, mut(buf.data()), buf.size(),
                                {}, off, std::move(cb), timeout);
}

RequestId Uring::read(int fd, FixedBuffer reg, std::span<std::byte> buf, std::uint64_t off,
                      Completion cb, std::chrono::nanoseconds timeout)
{
    impl_->check_fixed("asyncdev::Uring::read", timeout, {}, reg, buf.data(), buf.size());
    return impl_->prepare_fixed(Op::read, false, fd, buf_index(reg), buf.data(), buf.size(), {},
                                off, std::move(cb), timeout);
}

RequestId Uring::write(int fd, FixedBuffer reg, std::span<const std::byte> buf,
                       std::uint64_t off, Completion cb, std::chrono::nanoseconds timeout)
{
    impl_->check_fixed("asyncdev::Uring::write", timeout, {}, reg, buf.data(), buf.size());
    return impl_->prepare_fixed(Op::write, false, fd, buf_index(reg), mut(buf.data()),
                                buf.size(), {}, off, std::move(cb), timeout);
}

RequestId Uring::read(FixedFile file, FixedBuffer reg, std::span<std::byte> buf,
                      std::uint64_t off, Completion cb, std::chrono::nanoseconds timeout)
{
    impl_->check_fixed("asyncdev::Uring::read", timeout, file, reg, buf.data(), buf.size());
    return impl_->prepare_fixed(Op::read, true, file_fd(file), buf_index(reg), buf.data(),
                                buf.size(), {}, off, std::move(cb), timeout);
}

RequestId Uring::write(FixedFile file, FixedBuffer reg, std::span<const std::byte> buf,
                       std::uint64_t off, Completion cb, std::chrono::nanoseconds timeout)
{
    impl_->check_fixed("asyncdev::Uring::write", timeout, file, reg, buf.data(), buf.size());
    return impl_->prepare_fixed(Op::write, true, file_fd(file), buf_index(reg), mut(buf.data()),
                                buf.size(), {}, off, std::move(cb), timeout);
}

RequestId Uring::readv(FixedFile file, std::span<const iovec> iov, std::uint64_t off,
                       Completion cb, std::chrono::nanoseconds timeout)
{
    impl_->check_fixed("asyncdev::Uring::readv", timeout, file);
    return impl_->prepare_fixed(Op::readv, true, file_fd(file), -1, nullptr, 0, iov, off,
                                std::move(cb), timeout);
}

RequestId Uring::writev(FixedFile file, std::span<const iovec> iov, std::uint64_t off,
                        Completion cb, std::chrono::nanoseconds timeout)
{
    impl_->check_fixed("asyncdev::Uring::writev", timeout, file);
    return impl_->prepare_fixed(Op::writev, true, file_fd(file), -1, nullptr, 0, iov, off,
                                std::move(cb), timeout);
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
