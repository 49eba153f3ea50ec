// SPDX-License-Identifier: MIT
#include <asyncdev/error.h>
#include <asyncdev/posix_aio.h>

#include "engine_core.h"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <csignal>
#include <cstring>
#include <mutex>
#include <unordered_map>

#include <sys/stat.h>

namespace asyncdev {

namespace {

// sigev_value carries (instance key << 40) | request id, so that neither a
// signal nor a glibc notification thread ever holds a pointer that could
// dangle: a late notification only finds that its key or id is gone.
constexpr unsigned id_bits = 40;
constexpr std::uint64_t id_mask = (std::uint64_t{1} << id_bits) - 1;

void* encode(std::uint64_t key, RequestId id)
{
    return reinterpret_cast<void*>(static_cast<std::uintptr_t>(key << id_bits | (id & id_mask)));
}

std::pair<std::uint64_t, RequestId> decode(std::uint64_t v)
{
    return {v >> id_bits, v & id_mask};
}

} // namespace

class PosixAio::Impl final : public detail::EngineCore {
public:
    Impl(Loop& loop, Notify notify, int signo, std::size_t max)
        : EngineCore(loop, max), notify_(notify), signo_(signo ? signo : SIGRTMIN + 2)
    {
        {
            auto& reg = registry();
            std::lock_guard lock(reg.mu);
            key_ = reg.next_key++ & ((std::uint64_t{1} << (64 - id_bits)) - 1);
            reg.live.emplace(key_, Entry{&loop_, this});
        }
        if (notify_ == Notify::signal) {
            try {
                watch_ = loop_.watch_signal(signo_, [this](const signalfd_siginfo& si) {
                    auto [key, id] = decode(si.ssi_ptr);
                    if (key == key_)
                        on_notify(id);
                });
            } catch (...) {
                unregister();
                throw;
            }
        }
    }

    ~Impl() override
    {
        if (loop_.forked()) {
            // glibc's helper threads, and the notifications, are the
            // parent's: nothing to cancel or wait for here. (The registry
            // is left alone: a parent thread may have held its mutex.)
            watch_.reset();
            return;
        }
        drain();
        // glibc raises the notification while holding its request mutex,
        // which aio_suspend takes: after this call every signal for our
        // requests is pending, so removing the watch consumes it.
        const struct aiocb* none[1] = {nullptr};
        struct timespec zero = {0, 0};
        (void)::aio_suspend(none, 1, &zero);
        unregister();
        watch_.reset();
    }

    Notify notify() const noexcept { return notify_; }

    // cancel() that tells the truth (see posix_aio.h).
    bool cancel_truthfully(RequestId id)
    {
        loop_.check_loop_thread("PosixAio::cancel");
        Request* r = find(id);
        if (!r)
            return false;
        if (r->state != Request::State::in_kernel)
            return cancel(id); // prepared/queued: -ECANCELED, true; done: false
        const int rc = ::aio_cancel(r->fd, &r->u.aiocb);
        if (rc == AIO_CANCELED || rc == AIO_ALLDONE) {
            if (collect(*r))
                kick();
        }
        return rc == AIO_CANCELED; // AIO_NOTCANCELED, AIO_ALLDONE, -1: false
    }

    bool wait(RequestId id, std::chrono::nanoseconds timeout)
    {
        Request* r = find(id);
        if (!r)
            return true;
        if (r->state == Request::State::prepared || r->state == Request::State::queued)
            return false;
        if (r->state == Request::State::in_kernel) {
            const struct aiocb* list[1] = {&r->u.aiocb};
            const auto s = std::chrono::duration_cast<std::chrono::seconds>(timeout);
            struct timespec ts = {static_cast<time_t>(s.count()),
                                  static_cast<long>((timeout - s).count())};
            if (::aio_suspend(list, 1, &ts) != 0 && errno != EINTR && errno != EAGAIN)
                throw_errno("aio_suspend");
            if (!collect(*r))
                return false;
        }
        process(); // runs the callback (and any other finished ones)
        return true;
    }

private:
    using Request = detail::Request;
    struct Entry {
        Loop* loop;
        Impl* self;
    };
    struct Registry {
        std::mutex mu;
        std::uint64_t next_key = 1;
        std::unordered_map<std::uint64_t, Entry> live;
    };

    // The only global state: SIGEV_THREAD notifications run on glibc
    // threads that may outlive any PosixAio. Never destroyed on purpose,
    // since such a thread may still run during static destruction.
    static Registry& registry()
    {
        static Registry* reg = new Registry;
        return *reg;
    }

    void unregister() noexcept
    {
        auto& reg = registry();
        std::lock_guard lock(reg.mu);
        reg.live.erase(key_);
    }

    // Runs on a glibc notification thread: forward to the loop thread.
    static void thread_notify(sigval v)
    {
        auto [key, id] = decode(reinterpret_cast<std::uintptr_t>(v.sival_ptr));
        auto& reg = registry();
        std::lock_guard lock(reg.mu);
        auto it = reg.live.find(key);
        if (it == reg.live.end())
            return;
        try {
            it->second.loop->post([key, id] {
                Impl* self = nullptr;
                {
                    auto& reg = registry();
                    std::lock_guard lock(reg.mu);
                    if (auto it = reg.live.find(key); it != reg.live.end())
                        self = it->second.self; // alive: destroyed on this thread only
                }
                if (self)
                    self->on_notify(id);
            });
        } catch (...) {
            // Out of memory on a glibc thread: nothing sensible to do.
        }
    }

    // A notification for `id` arrived on the loop thread.
    void on_notify(RequestId id)
    {
        if (Request* r = find(id); r && collect(*r))
            process();
    }

    // If the C library is done with r, complete it; true if complete now.
    bool collect(Request& r) noexcept
    {
        if (r.state != Request::State::in_kernel)
            return r.state == Request::State::done;
        const int err = ::aio_error(&r.u.aiocb);
        if (err == EINPROGRESS)
            return false;
        const ssize_t ret = ::aio_return(&r.u.aiocb);
        if (!err && ret > 0 && r.bounce && !r.abandoned) {
            if (r.op == Request::Op::read)
                std::memcpy(r.buf, r.bounce.get(), static_cast<std::size_t>(ret));
            else if (r.op == Request::Op::readv)
                scatter(r, static_cast<std::size_t>(ret));
        }
        complete(r.id, err ? -static_cast<ssize_t>(err) : ret);
        return true;
    }

    // Regular files and block devices complete in bounded time; on any
    // other fd a started read or write may wait for ever, and glibc cannot
    // cancel it: such requests use a buffer of the library (Request::bounce)
    // so that abandon() need not wait for them.
    static bool may_block_for_ever(int fd) noexcept
    {
        struct stat st;
        if (::fstat(fd, &st) < 0)
            return false; // aio_read/aio_write report the error
        return !S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode);
    }

    static void scatter(const Request& r, std::size_t n) noexcept
    {
        const std::byte* from = r.bounce.get();
        for (const iovec& v : r.iov) {
            const std::size_t k = std::min(n, v.iov_len);
            if (k == 0)
                break;
            std::memcpy(v.iov_base, from, k);
            from += k;
            n -= k;
        }
    }

    // Fills r's aiocb; false if the request is invalid (iovec total too big).
    bool prep(Request& r)
    {
        const bool vectored = r.op == Request::Op::readv || r.op == Request::Op::writev;
        if (vectored && !r.bounce) {
            // No vectored POSIX AIO: one library buffer of the total length.
            std::size_t total = 0;
            for (const iovec& v : r.iov) {
                if (v.iov_len > static_cast<std::size_t>(SSIZE_MAX) - total)
                    return false;
                total += v.iov_len;
            }
            r.len = total;
            r.bounce = std::make_unique_for_overwrite<std::byte[]>(std::max<std::size_t>(total, 1));
            if (r.op == Request::Op::writev) {
                std::byte* to = r.bounce.get();
                for (const iovec& v : r.iov) {
                    if (v.iov_len)
                        std::memcpy(to, v.iov_base, v.iov_len);
                    to += v.iov_len;
                }
            }
        } else if (!r.bounce && may_block_for_ever(r.fd)) {
            r.bounce = std::make_unique_for_overwrite<std::byte[]>(std::max<std::size_t>(r.len, 1));
            if (r.op == Request::Op::write && r.len > 0)
                std::memcpy(r.bounce.get(), r.buf, r.len);
        }
        const bool reads = r.op == Request::Op::read || r.op == Request::Op::readv;
        struct aiocb& cb = r.u.aiocb;
        std::memset(&cb, 0, sizeof cb);
        cb.aio_fildes = r.fd;
        cb.aio_offset = static_cast<off_t>(r.offset);
        cb.aio_buf = r.bounce ? static_cast<void*>(r.bounce.get()) : r.buf;
        cb.aio_nbytes = r.len;
        cb.aio_lio_opcode = reads ? LIO_READ : LIO_WRITE;
        cb.aio_sigevent.sigev_value.sival_ptr = encode(key_, r.id);
        if (notify_ == Notify::signal) {
            cb.aio_sigevent.sigev_notify = SIGEV_SIGNAL;
            cb.aio_sigevent.sigev_signo = signo_;
        } else {
            cb.aio_sigevent.sigev_notify = SIGEV_THREAD;
            cb.aio_sigevent.sigev_notify_function = &Impl::thread_notify;
        }
        return true;
    }

    // One aio_read/aio_write per request, so that each one's enqueueing
    // succeeds or fails on its own (see posix_aio.h: lio_listio cannot say
    // which requests it enqueued when glibc runs out of memory).
    void kernel_submit(std::span<Request* const> batch) override
    {
        for (Request* rp : batch) {
            Request& r = *rp;
            if (!prep(r)) {
                fail(r, -EINVAL);
                continue;
            }
            const bool reads = r.op == Request::Op::read || r.op == Request::Op::readv;
            const int rc = reads ? ::aio_read(&r.u.aiocb) : ::aio_write(&r.u.aiocb);
            if (rc == 0) {
                mark_in_kernel(r);
                continue;
            }
            if (errno == EAGAIN)
                return; // this one and the rest stay queued, in order
            fail(r, -errno);
        }
    }

    void kernel_cancel(Request& r) noexcept override
    {
        (void)::aio_cancel(r.fd, &r.u.aiocb);
        if (collect(r)) // AIO_CANCELED or AIO_ALLDONE
            kick();
    }

    void reap(bool wait) override
    {
        if (!wait)
            return; // completions arrive as notifications
        std::vector<Request*> reqs = in_kernel_requests();
        std::vector<const struct aiocb*> list;
        list.reserve(reqs.size());
        for (Request* r : reqs)
            list.push_back(&r->u.aiocb);
        bool any = false;
        while (!any) {
            if (::aio_suspend(list.data(), static_cast<int>(list.size()), nullptr) != 0 &&
                errno != EINTR && errno != EAGAIN)
                throw_errno("aio_suspend");
            for (Request* r : reqs)
                any |= collect(*r);
        }
    }

    Notify notify_;
    int signo_;
    std::uint64_t key_ = 0;
    Loop::Watch watch_;
};

PosixAio::PosixAio(Loop& loop, Notify notify, int signo, std::size_t max_in_flight)
    : impl_(std::make_unique<Impl>(loop, notify, signo, max_in_flight))
{
}
PosixAio::~PosixAio() = default;

std::unique_ptr<PosixAio> PosixAio::create(Loop& loop, Notify notify, int signo,
                                           std::size_t max_in_flight, std::error_code& ec)
{
    ec.clear();
    try {
        return std::make_unique<PosixAio>(loop, notify, signo, max_in_flight);
    } catch (const std::system_error& e) {
        ec = e.code();
    } catch (const std::bad_alloc&) {
        ec = std::make_error_code(std::errc::not_enough_memory);
    }
    return nullptr;
}

RequestId PosixAio::read(int fd, std::span<std::byte> buf, std::uint64_t off, Completion cb)
{
    return impl_->prepare(detail::Request::Op::read, fd, buf.data(), buf.size(), {}, off,
                          std::move(cb));
}
RequestId PosixAio::write(int fd, std::span<const std::byte> buf, std::uint64_t off,
                          Completion cb)
{
    return impl_->prepare(detail::Request::Op::write, fd, const_cast<std::byte*>(buf.data()),
                          buf.size(), {}, off, std::move(cb));
}
RequestId PosixAio::readv(int fd, std::span<const iovec> iov, std::uint64_t off, Completion cb)
{
    return impl_->prepare(detail::Request::Op::readv, fd, nullptr, 0, iov, off, std::move(cb));
}
RequestId PosixAio::writev(int fd, std::span<const iovec> iov, std::uint64_t off, Completion cb)
{
    return impl_->prepare(detail::Request::Op::writev, fd, nullptr, 0, iov, off, std::move(cb));
}
std::size_t PosixAio::submit() { return impl_->submit(); }
bool PosixAio::cancel(RequestId id) { return impl_->cancel_truthfully(id); }
void PosixAio::abandon(RequestId id) noexcept { impl_->abandon(id); }
bool PosixAio::wait(RequestId id, std::chrono::nanoseconds timeout) { return impl_->wait(id, timeout); }
PosixAio::Notify PosixAio::notify() const noexcept { return impl_->notify(); }
std::size_t PosixAio::depth() const noexcept { return impl_->depth(); }
std::size_t PosixAio::in_flight() const noexcept { return impl_->in_flight(); }
std::size_t PosixAio::queued() const noexcept { return impl_->queued(); }

} // namespace asyncdev
