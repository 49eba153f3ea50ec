// SPDX-License-Identifier: MIT
// asyncdev::Task and awaitables: co_await on I/O, readiness and time.
#pragma once

#include <asyncdev/io_engine.h>
#include <asyncdev/loop.h>

#include <chrono>
#include <coroutine>
#include <cstdint>
#include <exception>
#include <optional>
#include <span>
#include <utility>

#include <sys/epoll.h>

namespace asyncdev {

template <class T = void>
class Task;

namespace detail {

struct PromiseBase {
    std::coroutine_handle<> continuation = std::noop_coroutine();
    std::exception_ptr error;

    std::suspend_always initial_suspend() noexcept { return {}; }
    struct FinalAwaiter {
        bool await_ready() noexcept { return false; }
        template <class P>
        std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) noexcept
        {
            return h.promise().continuation; // symmetric transfer to the awaiter
        }
        void await_resume() noexcept {}
    };
    FinalAwaiter final_suspend() noexcept { return {}; }
    void unhandled_exception() noexcept { error = std::current_exception(); }
    void rethrow_if_error()
    {
        if (error)
            std::rethrow_exception(error);
    }
};

template <class T>
struct Promise : PromiseBase {
    std::optional<T> value;
    Task<T> get_return_object() noexcept;
    template <class U>
    void return_value(U&& v)
    {
        value.emplace(std::forward<U>(v));
    }
    T result()
    {
        rethrow_if_error();
        return std::move(*value);
    }
};

template <>
struct Promise<void> : PromiseBase {
    Task<void> get_return_object() noexcept;
    void return_void() noexcept {}
    void result() { rethrow_if_error(); }
};

} // namespace detail

/// A lazily started coroutine producing a T (or an exception).
///
/// It starts when awaited (`co_await task`, which transfers control
/// symmetrically and resumes the awaiter when the task finishes) or when
/// given to sync_wait(). An exception escaping the coroutine is rethrown to
/// the awaiter.
///
/// Destroying a Task destroys its coroutine frame, wherever it is
/// suspended. If it is suspended on an I/O awaitable below, the operation
/// is abandoned (IoEngine::abandon: cancelled, and the destructor blocks
/// until the kernel has released the buffer, except for PosixAio on fds
/// that may block for ever, where it returns at once); the coroutine is
/// never resumed. If the backend is destroyed first, the coroutine
/// likewise stays suspended, never resumed, and destroying its Task later
/// is safe. A coroutine may own its backend (`Uring ring(loop);` as a
/// local, then `co_return co_await async_read(ring, ...)`): the backend is
/// then destroyed inside its own completion, which the backends allow.
template <class T>
class [[nodiscard]] Task {
public:
    using promise_type = detail::Promise<T>;
    using handle_type = std::coroutine_handle<promise_type>;

    Task() noexcept = default;
    explicit Task(handle_type h) noexcept : h_(h) {}
    Task(Task&& o) noexcept
        : h_(std::exchange(o.h_, {})), started_(std::exchange(o.started_, false))
    {
    }
    Task& operator=(Task&& o) noexcept
    {
        if (this != &o) {
            if (h_)
                h_.destroy();
            h_ = std::exchange(o.h_, {});
            started_ = std::exchange(o.started_, false);
        }
        return *this;
    }
    ~Task()
    {
        if (h_)
            h_.destroy();
    }

    bool valid() const noexcept { return static_cast<bool>(h_); }
    bool done() const noexcept { return h_ && h_.done(); }

    auto operator co_await() && noexcept
    {
        struct Awaiter {
            handle_type h;
            bool await_ready() const noexcept { return !h || h.done(); }
            std::coroutine_handle<> await_suspend(std::coroutine_handle<> awaiting) noexcept
            {
                h.promise().continuation = awaiting;
                return h;
            }
            T await_resume() { return h.promise().result(); }
        };
        return Awaiter{h_};
    }

    /// Starts the task (once) without awaiting it: it runs until its first
    /// suspension. Used by sync_wait(); the Task must then outlive the run.
    void start()
    {
        if (h_ && !started_) {
            started_ = true;
            h_.resume();
        }
    }
    /// Precondition: done(). Returns the value or rethrows the exception.
    T result() { return h_.promise().result(); }

private:
    handle_type h_;
    bool started_ = false;
};

namespace detail {
template <class T>
Task<T> Promise<T>::get_return_object() noexcept
{
    return Task<T>(std::coroutine_handle<Promise<T>>::from_promise(*this));
}
inline Task<void> Promise<void>::get_return_object() noexcept
{
    return Task<void>(std::coroutine_handle<Promise<void>>::from_promise(*this));
}
} // namespace detail

/// Runs `loop` (run_once) on the calling (loop) thread until `task` has
/// finished; returns its value or rethrows its exception. An exception
/// from another loop callback propagates out and destroys the task.
template <class T>
T sync_wait(Loop& loop, Task<T> task)
{
    task.start();
    while (!task.done())
        loop.run_once();
    return task.result();
}

// ---- awaitables ----

/// co_await async_read(backend, ...) / async_write(...): one request on any
/// IoBackend, submitted at once; yields its ssize_t result (>= 0 bytes,
/// < 0 negated errno). The buffer must stay valid while suspended (a local
/// of the coroutine is fine: destroying the coroutine abandons the
/// request first). Exceptions from preparing or submitting propagate.
template <IoBackend B>
class IoAwaitable {
public:
    IoAwaitable(B& b, int fd, std::byte* buf, std::size_t len, std::uint64_t off, bool write)
        : backend_(&b), fd_(fd), buf_(buf), len_(len), off_(off), write_(write)
    {
    }
    IoAwaitable(const IoAwaitable&) = delete;
    IoAwaitable& operator=(const IoAwaitable&) = delete;
    ~IoAwaitable()
    {
        if (id_ && backend_)
            backend_->abandon(id_); // the coroutine is being destroyed mid-operation
    }

    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h)
    {
        handle_ = h;
        id_ = write_ ? backend_->write(fd_, std::span<const std::byte>(buf_, len_), off_, Resumer{this})
                     : backend_->read(fd_, std::span<std::byte>(buf_, len_), off_, Resumer{this});
        backend_->submit();
    }
    ssize_t await_resume() const noexcept { return result_; }

private:
    // The completion callback. If the backend destroys it uninvoked (the
    // backend itself is being destroyed), it tells the awaitable so that
    // the awaitable does not touch the backend again.
    struct Resumer {
        IoAwaitable* self;
        explicit Resumer(IoAwaitable* s) noexcept : self(s) {}
        Resumer(Resumer&& o) noexcept : self(std::exchange(o.self, nullptr)) {}
        Resumer& operator=(Resumer&&) = delete;
        ~Resumer()
        {
            if (self)
                self->backend_ = nullptr;
        }
        void operator()(ssize_t res)
        {
            IoAwaitable* s = std::exchange(self, nullptr);
            s->id_ = 0;
            s->result_ = res;
            s->handle_.resume();
        }
    };

    B* backend_;
    int fd_;
    std::byte* buf_;
    std::size_t len_;
    std::uint64_t off_;
    bool write_;
    RequestId id_ = 0;
    ssize_t result_ = 0;
    std::coroutine_handle<> handle_;
};

template <IoBackend B>
[[nodiscard]] IoAwaitable<B> async_read(B& backend, int fd, std::span<std::byte> buf,
                                        std::uint64_t offset = 0)
{
    return {backend, fd, buf.data(), buf.size(), offset, false};
}

template <IoBackend B>
[[nodiscard]] IoAwaitable<B> async_write(B& backend, int fd, std::span<const std::byte> buf,
                                         std::uint64_t offset = 0)
{
    return {backend, fd, const_cast<std::byte*>(buf.data()), buf.size(), offset, true};
}

/// co_await readiness(loop, fd, EPOLLIN): waits until `fd` is ready for
/// `events` and yields the epoll events. Uses Loop::watch_fd (one watch per
/// fd at a time). Destroying the coroutine while suspended unregisters.
class ReadinessAwaitable {
public:
    ReadinessAwaitable(Loop& loop, int fd, std::uint32_t events) noexcept
        : loop_(&loop), fd_(fd), events_(events)
    {
    }
    ReadinessAwaitable(const ReadinessAwaitable&) = delete;
    ReadinessAwaitable& operator=(const ReadinessAwaitable&) = delete;

    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h)
    {
        watch_ = loop_->watch_fd(fd_, events_, [this, h](std::uint32_t ev) {
            revents_ = ev;
            watch_.reset(); // safe inside its own callback
            h.resume();
        });
    }
    std::uint32_t await_resume() const noexcept { return revents_; }

private:
    Loop* loop_;
    int fd_;
    std::uint32_t events_;
    std::uint32_t revents_ = 0;
    Loop::Watch watch_;
};

[[nodiscard]] inline ReadinessAwaitable readable(Loop& loop, int fd)
{
    return {loop, fd, EPOLLIN};
}
[[nodiscard]] inline ReadinessAwaitable writable(Loop& loop, int fd)
{
    return {loop, fd, EPOLLOUT};
}

/// co_await sleep_for(loop, d): resumes after `d` (timerfd).
class SleepAwaitable {
public:
    SleepAwaitable(Loop& loop, std::chrono::nanoseconds d) noexcept : loop_(&loop), d_(d) {}
    SleepAwaitable(const SleepAwaitable&) = delete;
    SleepAwaitable& operator=(const SleepAwaitable&) = delete;

    bool await_ready() const noexcept { return d_.count() <= 0; }
    void await_suspend(std::coroutine_handle<> h)
    {
        timer_.emplace(*loop_, [h](std::uint64_t) { h.resume(); });
        timer_->start(d_);
    }
    void await_resume() const noexcept {}

private:
    Loop* loop_;
    std::chrono::nanoseconds d_;
    std::optional<Timer> timer_;
};

[[nodiscard]] inline SleepAwaitable sleep_for(Loop& loop, std::chrono::nanoseconds d)
{
    return {loop, d};
}

} // namespace asyncdev
