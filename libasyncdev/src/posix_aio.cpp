// SPDX-License-Identifier: MIT
#include <asyncdev/error.h>
#include <asyncdev/posix_aio.h>

#include "engine_core.h"

#include <algorithm>
#include <cerrno>
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
        if (!err && ret > 0 && r.bounce && r.op == Request::Op::read && !r.abandoned)
            std::memcpy(r.buf, r.bounce.get(), static_cast<std::size_t>(ret));
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

    void prep(Request& r)
    {
        if (!r.bounce && may_block_for_ever(r.fd)) {
            r.bounce = std::make_unique_for_overwrite<std::byte[]>(std::max<std::size_t>(r.len, 1));
            if (r.op == Request::Op::write && r.len > 0)
                std::memcpy(r.bounce.get(), r.buf, r.len);
        }
        struct aiocb& cb = r.u.aiocb;
        std::memset(&cb, 0, sizeof cb);
        cb.aio_fildes = r.fd;
        cb.aio_offset = static_cast<off_t>(r.offset);
        cb.aio_buf = r.bounce ? static_cast<void*>(r.bounce.get()) : r.buf;
        cb.aio_nbytes = r.len;
        cb.aio_lio_opcode = r.op == Request::Op::read ? LIO_READ : LIO_WRITE;
        cb.aio_sigevent.sigev_value.sival_ptr = encode(key_, r.id);
        if (notify_ == Notify::signal) {
            cb.aio_sigevent.sigev_notify = SIGEV_SIGNAL;
            cb.aio_sigevent.sigev_signo = signo_;
        } else {
            cb.aio_sigevent.sigev_notify = SIGEV_THREAD;
            cb.aio_sigevent.sigev_notify_function = &Impl::thread_notify;
        }
    }

    void kernel_submit(std::span<Request* const> batch) override
    {
        for (Request* r : batch)
            prep(*r);
        if (batch.size() == 1) {
            Request& r = *batch[0];
            const int rc = r.op == Request::Op::read ? ::aio_read(&r.u.aiocb)
                                                     : ::aio_write(&r.u.aiocb);
            if (rc == 0)
                mark_in_kernel(r);
            else if (errno != EAGAIN)
                fail(r, -errno);
            return; // EAGAIN: stays queued
        }
        std::vector<struct aiocb*> list;
        list.reserve(batch.size());
        for (Request* r : batch)
            list.push_back(&r->u.aiocb);
        const int rc = ::lio_listio(LIO_NOWAIT, list.data(), static_cast<int>(list.size()), nullptr);
        for (Request* r : batch)
            mark_in_kernel(*r);
        if (rc == 0)
            return;
        // Some were not enqueued: their aiocb holds the error. One that was
        // enqueued and already finished is collected now; its notification
        // will find the id gone.
        bool any = false;
        for (Request* r : batch)
            any |= collect(*r);
        if (any)
            kick();
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
std::size_t PosixAio::submit() { return impl_->submit(); }
bool PosixAio::cancel(RequestId id) { return impl_->cancel(id); }
void PosixAio::abandon(RequestId id) noexcept { impl_->abandon(id); }
bool PosixAio::wait(RequestId id, std::chrono::nanoseconds timeout) { return impl_->wait(id, timeout); }
PosixAio::Notify PosixAio::notify() const noexcept { return impl_->notify(); }
std::size_t PosixAio::in_flight() const noexcept { return impl_->in_flight(); }
std::size_t PosixAio::queued() const noexcept { return impl_->queued(); }

} // namespace asyncdev
