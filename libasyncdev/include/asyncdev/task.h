// SPDX-License-Identifier: MIT
// asyncdev::Task and awaitables: co_await on I/O, readiness and time.
#pragma once

#include <asyncdev/io_engine.h>
#include <asyncdev/loop.h>

#include <chrono>
#include <coroutine>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include <cerrno>

#include <sys/epoll.h>

namespace asyncdev {

template <class T = void>
class Task;

namespace detail {

struct PromiseBase {
    std::coroutine_handle<> continuation = std::noop_coroutine();
    std::exception_ptr error;
    bool started = false; ///< awaited, spawned, in a when_all or start()ed
    bool taken = false;   ///< result() has run

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
    void take()
    {
        if (taken)
            throw std::logic_error("asyncdev::Task: result taken twice (a Task is awaited once)");
        taken = true;
        if (error)
            std::rethrow_exception(error);
    }
    /// Marks the task started; throws std::logic_error if it already was.
    void begin(const char* what)
    {
        if (started)
            throw std::logic_error(std::string("asyncdev::Task: ") + what +
                                   " on a Task already started (awaited, spawned, in a "
                                   "when_all or given to sync_wait)");
        started = true;
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
        take();
        return std::move(*value);
    }
};

template <>
struct Promise<void> : PromiseBase {
    Task<void> get_return_object() noexcept;
    void return_void() noexcept {}
    void result() { take(); }
};

struct TaskAccess;

} // namespace detail

/// A lazily started coroutine producing a T (or an exception).
///
/// It starts when awaited (`co_await task` or `co_await std::move(task)`,
/// which transfers control symmetrically and resumes the awaiter when the
/// task finishes), spawned (co_spawn), given to when_all or to sync_wait().
/// An exception escaping the coroutine is rethrown to the awaiter. A Task
/// is started once and its result taken once; starting it again, awaiting
/// an empty Task or taking the result twice throws std::logic_error.
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
    Task(Task&& o) noexcept : h_(std::exchange(o.h_, {})) {}
    Task& operator=(Task&& o) noexcept
    {
        if (this != &o) {
            if (h_)
                h_.destroy();
            h_ = std::exchange(o.h_, {});
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

    /// co_await on an rvalue or an lvalue Task: the same (the Task keeps
    /// the frame either way; an lvalue Task is destroyed by its owner).
    auto operator co_await() && { return Awaiter{h_}; }
    auto operator co_await() & { return Awaiter{h_}; }

    /// Starts the task (once) without awaiting it: it runs until its first
    /// suspension. Used by sync_wait(); the Task must then outlive the run.
    void start()
    {
        if (!h_)
            throw std::logic_error("asyncdev::Task: start() on an empty Task");
        h_.promise().begin("start()");
        h_.resume();
    }
    /// Precondition: done(). Returns the value or rethrows the exception.
    T result()
    {
        if (!done())
            throw std::logic_error("asyncdev::Task: result() before the task finished");
        return h_.promise().result();
    }

private:
    friend struct detail::TaskAccess;

    struct Awaiter {
        handle_type h;
        bool await_ready() const
        {
            if (!h)
                throw std::logic_error("asyncdev::Task: co_await on an empty Task");
            return h.done();
        }
        std::coroutine_handle<> await_suspend(std::coroutine_handle<> awaiting)
        {
            h.promise().begin("co_await");
            h.promise().continuation = awaiting;
            return h;
        }
        T await_resume() { return h.promise().result(); }
    };

    handle_type h_;
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

struct TaskAccess {
    template <class T>
    static std::coroutine_handle<Promise<T>> handle(Task<T>& t) noexcept
    {
        return t.h_;
    }
};
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

// ---- co_spawn: a task that owns itself ----

namespace detail {

/// The frame of a spawned task's driver: started from a posted callback,
/// destroys itself when it finishes.
struct Detached {
    struct promise_type {
        Detached get_return_object() noexcept
        {
            return Detached{std::coroutine_handle<promise_type>::from_promise(*this)};
        }
        std::suspend_always initial_suspend() noexcept { return {}; }
        std::suspend_never final_suspend() noexcept { return {}; }
        void return_void() noexcept {}
        /// An exception escaping a task spawned without a handler.
        [[noreturn]] void unhandled_exception() noexcept { std::terminate(); }
    };
    std::coroutine_handle<promise_type> h;
};

/// The posted callback that starts a Detached frame; if the Loop destroys
/// it unrun (the Loop is destroyed first), it destroys the frame (and the
/// task in it) instead.
struct SpawnStarter {
    std::coroutine_handle<> h;
    explicit SpawnStarter(std::coroutine_handle<> f) noexcept : h(f) {}
    SpawnStarter(SpawnStarter&& o) noexcept : h(std::exchange(o.h, {})) {}
    SpawnStarter& operator=(SpawnStarter&&) = delete;
    ~SpawnStarter()
    {
        if (h)
            h.destroy();
    }
    void operator()() { std::exchange(h, {}).resume(); }
};

template <class T>
Detached spawn_detached(Task<T> task)
{
    co_await std::move(task); // an exception: std::terminate (promise above)
}

template <class T, class Handler>
Detached spawn_with_handler(Loop& loop, Task<T> task, Handler handler)
{
    std::exception_ptr error;
    if constexpr (std::is_void_v<T>) {
        try {
            co_await std::move(task);
        } catch (...) {
            error = std::current_exception();
        }
        loop.post([h = std::move(handler), error]() mutable { h(error); });
    } else {
        T value{};
        try {
            value = co_await std::move(task);
        } catch (...) {
            error = std::current_exception();
        }
        loop.post([h = std::move(handler), error, v = std::move(value)]() mutable {
            h(error, std::move(v));
        });
    }
}

template <class T>
void check_spawnable(Task<T>& task, const char* what)
{
    auto h = TaskAccess::handle(task);
    if (!h)
        throw std::logic_error(std::string(what) + ": empty Task");
    if (h.promise().started)
        throw std::logic_error(std::string(what) + ": Task already started");
}

} // namespace detail

/// Runs `task` detached: the spawned task owns itself (its frame is
/// destroyed when it finishes). It is started from a callback posted to
/// `loop` (co_spawn never runs it inline, and may be called from any
/// thread), so it runs on the loop thread. An exception escaping the task
/// calls std::terminate (as an exception escaping a std::thread does): use
/// the handler form to receive it. If the Loop is destroyed before the
/// task has started, the task is destroyed unrun. A spawned task that never
/// finishes (suspended on a request whose backend was destroyed, or on a
/// readiness that never comes) is never destroyed: make it finish, e.g.
/// through a std::stop_token (async_read/async_write with IoOptions),
/// before tearing down. Throws std::logic_error for an empty or started
/// Task.
template <class T>
void co_spawn(Loop& loop, Task<T> task)
{
    detail::check_spawnable(task, "asyncdev::co_spawn");
    const detail::Detached d = detail::spawn_detached(std::move(task));
    loop.post(detail::SpawnStarter(d.h));
}

/// As above, and when the task has finished, `handler` is posted to `loop`:
/// called as handler(std::exception_ptr) for a Task<void> and as
/// handler(std::exception_ptr, T value) otherwise (value is T{} when the
/// task threw; T must be default-constructible and move-assignable). The
/// exception_ptr is null unless the task threw. The handler runs as any
/// posted callback: an exception it throws leaves run()/run_once().
template <class T, class Handler>
void co_spawn(Loop& loop, Task<T> task, Handler handler)
{
    if constexpr (std::is_void_v<T>)
        static_assert(std::is_invocable_v<Handler&, std::exception_ptr>,
                      "co_spawn(Task<void>) handler: void(std::exception_ptr)");
    else
        static_assert(std::is_invocable_v<Handler&, std::exception_ptr, T> &&
                          std::is_default_constructible_v<T>,
                      "co_spawn(Task<T>) handler: void(std::exception_ptr, T), T default-constructible");
    detail::check_spawnable(task, "asyncdev::co_spawn");
    const detail::Detached d = detail::spawn_with_handler(loop, std::move(task), std::move(handler));
    loop.post(detail::SpawnStarter(d.h));
}

// ---- when_all ----

namespace detail {

template <class T>
using when_all_value_t = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

struct WhenAllCounter {
    std::size_t remaining = 0;
    std::coroutine_handle<> parent;
};

/// Drives one child of a when_all: waits until it has finished without
/// taking its result; the last one to finish resumes the when_all.
class WhenAllRunner {
public:
    struct promise_type {
        WhenAllCounter* counter = nullptr;
        WhenAllRunner get_return_object() noexcept
        {
            return WhenAllRunner(std::coroutine_handle<promise_type>::from_promise(*this));
        }
        std::suspend_always initial_suspend() noexcept { return {}; }
        struct Final {
            bool await_ready() noexcept { return false; }
            std::coroutine_handle<> await_suspend(std::coroutine_handle<promise_type> h) noexcept
            {
                WhenAllCounter* c = h.promise().counter;
                return --c->remaining == 0 ? c->parent : std::noop_coroutine();
            }
            void await_resume() noexcept {}
        };
        Final final_suspend() noexcept { return {}; }
        void return_void() noexcept {}
        [[noreturn]] void unhandled_exception() noexcept { std::terminate(); } // never: see body
    };
    explicit WhenAllRunner(std::coroutine_handle<promise_type> h) noexcept : h_(h) {}
    WhenAllRunner(WhenAllRunner&& o) noexcept : h_(std::exchange(o.h_, {})) {}
    WhenAllRunner& operator=(WhenAllRunner&&) = delete;
    ~WhenAllRunner()
    {
        if (h_)
            h_.destroy();
    }
    void start(WhenAllCounter* c)
    {
        h_.promise().counter = c;
        h_.resume();
    }

private:
    std::coroutine_handle<promise_type> h_;
};

/// Resumes the awaiter when the task finishes; takes nothing, throws nothing.
struct TaskFinished {
    PromiseBase* p;
    std::coroutine_handle<> h;
    bool await_ready() const noexcept { return h.done(); }
    std::coroutine_handle<> await_suspend(std::coroutine_handle<> awaiting) noexcept
    {
        p->continuation = awaiting;
        return h;
    }
    void await_resume() const noexcept {}
};

inline WhenAllRunner when_all_runner(PromiseBase* p, std::coroutine_handle<> h)
{
    co_await TaskFinished{p, h};
}

template <class T>
WhenAllRunner make_runner(Task<T>& t)
{
    auto h = TaskAccess::handle(t);
    return when_all_runner(&h.promise(), h);
}

template <class T>
void check_when_all(Task<T>& t)
{
    auto h = TaskAccess::handle(t);
    if (!h)
        throw std::logic_error("asyncdev::when_all: empty Task");
    h.promise().begin("when_all");
}

/// Starts every runner, in order, each until its first suspension; resumes
/// the awaiter once all have finished (at once if all finished inline).
struct WhenAllAwaitable {
    std::vector<WhenAllRunner> runners;
    WhenAllCounter counter;
    bool await_ready() const noexcept { return runners.empty(); }
    bool await_suspend(std::coroutine_handle<> parent)
    {
        counter.remaining = runners.size() + 1; // +1: ours, dropped below
        counter.parent = parent;
        for (WhenAllRunner& r : runners)
            r.start(&counter);
        return --counter.remaining != 0;
    }
    void await_resume() const noexcept {}
};

template <class T>
when_all_value_t<T> take_result(Task<T>& t)
{
    auto h = TaskAccess::handle(t);
    if constexpr (std::is_void_v<T>) {
        h.promise().result();
        return {};
    } else {
        return h.promise().result();
    }
}

} // namespace detail

/// Runs the tasks concurrently on the awaiting thread (each starts in
/// order and runs until its first suspension) and finishes when all have
/// finished; yields their values in order (std::monostate for Task<void>).
/// If some threw, it still waits for all, then rethrows the exception of
/// the first, by position, that threw (the other results are discarded).
/// Nothing is cancelled on an exception: give the tasks a std::stop_token
/// for that. Destroying the when_all task destroys the unfinished tasks
/// (abandoning their requests). Throws std::logic_error for an empty or
/// already started Task.
template <class... Ts>
Task<std::tuple<detail::when_all_value_t<Ts>...>> when_all(Task<Ts>... tasks)
{
    (detail::check_when_all(tasks), ...);
    detail::WhenAllAwaitable all;
    all.runners.reserve(sizeof...(Ts));
    (all.runners.push_back(detail::make_runner(tasks)), ...);
    co_await all;
    co_return std::tuple<detail::when_all_value_t<Ts>...>{detail::take_result(tasks)...};
}

/// when_all over a vector: yields the values in order (Task<void> for a
/// vector of Task<void>); the same rules as above.
template <class T>
Task<std::conditional_t<std::is_void_v<T>, void, std::vector<T>>>
when_all(std::vector<Task<T>> tasks)
{
    for (Task<T>& t : tasks)
        detail::check_when_all(t);
    detail::WhenAllAwaitable all;
    all.runners.reserve(tasks.size());
    for (Task<T>& t : tasks)
        all.runners.push_back(detail::make_runner(t));
    co_await all;
    if constexpr (std::is_void_v<T>) {
        for (Task<T>& t : tasks)
            detail::take_result(t);
    } else {
        std::vector<T> values;
        values.reserve(tasks.size());
        for (Task<T>& t : tasks)
            values.push_back(detail::take_result(t));
        co_return values;
    }
}

// ---- awaitables ----

/// Options of one awaited request: async_read()/async_write() with a Loop.
/// Written `tok`, `50ms` or `{tok, 50ms}` at the call. (A class with
/// constructors, not an aggregate: GCC 12 destroys an aggregate temporary
/// twice when it appears in a co_await expression.)
class IoOptions {
public:
    IoOptions() = default;
    IoOptions(std::stop_token s) noexcept : stop(std::move(s)) {} // NOLINT: implicit
    template <class Rep, class Period>
    IoOptions(std::chrono::duration<Rep, Period> t) // NOLINT: implicit
        : timeout(std::chrono::duration_cast<std::chrono::nanoseconds>(t))
    {
    }
    template <class Rep, class Period>
    IoOptions(std::stop_token s, std::chrono::duration<Rep, Period> t)
        : stop(std::move(s)), timeout(std::chrono::duration_cast<std::chrono::nanoseconds>(t))
    {
    }

    /// When stop is requested (from any thread), the request is cancelled
    /// through the backend's cancel(); the awaiting coroutine resumes, on
    /// the loop thread, with -ECANCELED if the cancellation won, otherwise
    /// with the request's real result (it had completed, or the kernel
    /// could not cancel it: AioContext on regular files, PosixAio once
    /// started). Stop requested before the co_await: the request is not
    /// submitted and the result is -ECANCELED at once. Requested after the
    /// request completed: nothing happens (no second resumption). A
    /// request_stop() on another thread posts the cancel to the Loop, so it
    /// takes effect in the loop's next batch.
    std::stop_token stop;
    /// > 0: if the request has not completed after this long, it is
    /// cancelled and the result is -ETIMEDOUT (or the real result if it
    /// completed anyway, or -ECANCELED if `stop` cancelled it first).
    /// Uring awaited as a Uring bounds it in the kernel (a linked timeout,
    /// counted from when the kernel takes the request); other backends,
    /// and a Uring through IoEngine&, use a Timer on the Loop from the
    /// co_await on.
    std::chrono::nanoseconds timeout{0};
};

namespace detail {

/// Shared by an IoAwaitable and its stop callback (which may outlive it in
/// a callback posted to the loop). Touched on the loop thread only.
template <class B>
struct CancelState {
    enum class Cause { none, stop, timeout };
    B* backend = nullptr;
    RequestId id = 0; ///< 0: nothing left to cancel (completed or abandoned)
    Cause cause = Cause::none;

    void cancel(Cause why) noexcept
    {
        if (!id || !backend)
            return;
        if (cause == Cause::none)
            cause = why;
        try {
            (void)backend->cancel(id);
        } catch (...) {
            // cancel() only throws for a broken ring: the request then
            // completes on its own.
        }
    }
};

/// std::stop_callback body: cancels on the loop thread (directly when
/// request_stop() runs there, else through Loop::post).
template <class B>
struct StopCanceller {
    Loop* loop;
    std::shared_ptr<CancelState<B>> state;
    void operator()() noexcept
    {
        if (loop->in_loop_thread()) {
            state->cancel(CancelState<B>::Cause::stop);
            return;
        }
        try {
            loop->post([s = state] { s->cancel(CancelState<B>::Cause::stop); });
        } catch (...) {
            // Out of memory: the request is not cancelled, completes as usual.
        }
    }
};

/// B reads and writes on `Where...` (the arguments before the buffer: an
/// fd, or a backend's own file and buffer handles such as Uring::FixedFile
/// and Uring::FixedBuffer).
template <class B, class... Where>
concept ReadsWritesOn =
    requires(B& b, std::span<std::byte> r, std::span<const std::byte> w, std::uint64_t off,
             Completion cb, Where... where) {
        { b.read(where..., r, off, std::move(cb)) } -> std::same_as<RequestId>;
        { b.write(where..., w, off, std::move(cb)) } -> std::same_as<RequestId>;
    };

/// B bounds a read or write on `Where...` in the kernel (Uring's linked
/// timeouts): read(where..., buf, off, cb, timeout).
template <class B, class... Where>
concept NativeTimeoutsOn =
    requires(B& b, std::span<std::byte> r, std::span<const std::byte> w, std::uint64_t off,
             Completion cb, std::chrono::nanoseconds t, Where... where) {
        { b.read(where..., r, off, std::move(cb), t) } -> std::same_as<RequestId>;
        { b.write(where..., w, off, std::move(cb), t) } -> std::same_as<RequestId>;
    };

template <class B, class Where>
inline constexpr bool native_timeouts_v = false;
template <class B, class... Where>
inline constexpr bool native_timeouts_v<B, std::tuple<Where...>> = NativeTimeoutsOn<B, Where...>;

/// A file handle other than an fd (an fd goes to the int overloads).
template <class F>
concept NotAnFd = !std::is_convertible_v<F, int>;

inline void check_timeout(const IoOptions& opts, const char* call)
{
    if (opts.timeout.count() < 0)
        throw std::invalid_argument(std::string(call) + ": negative timeout");
}

} // namespace detail

/// co_await async_read(backend, ...) / async_write(...): one request on any
/// IoBackend, submitted at once; yields its ssize_t result (>= 0 bytes,
/// < 0 negated errno). The buffer must stay valid while suspended (a local
/// of the coroutine is fine: destroying the coroutine abandons the
/// request first, and stops its timer and stop callback). Exceptions from
/// preparing or submitting propagate. With a Loop and IoOptions: cancellable
/// through a std::stop_token and bounded by a timeout (see IoOptions).
/// `Where` is a std::tuple of the arguments that name the file (and the
/// registered buffer) before the span: std::tuple<int> for an fd,
/// std::tuple<Uring::FixedFile>, std::tuple<int, Uring::FixedBuffer>, ...
template <IoBackend B, class Where = std::tuple<int>>
class IoAwaitable {
    static constexpr bool native_timeouts = detail::native_timeouts_v<B, Where>;

public:
    IoAwaitable(B& b, Where where, std::byte* buf, std::size_t len, std::uint64_t off, bool write,
                Loop* loop = nullptr, IoOptions opts = {})
        : backend_(&b), where_(std::move(where)), buf_(buf), len_(len), off_(off), write_(write),
          loop_(loop), opts_(std::move(opts))
    {
    }
    IoAwaitable(const IoAwaitable&) = delete;
    IoAwaitable& operator=(const IoAwaitable&) = delete;
    ~IoAwaitable()
    {
        disarm(); // the coroutine is being destroyed mid-operation
        if (id_ && backend_)
            backend_->abandon(id_);
    }

    bool await_ready() noexcept
    {
        if (opts_.stop.stop_requested()) {
            result_ = -ECANCELED; // not submitted
            return true;
        }
        return false;
    }
    void await_suspend(std::coroutine_handle<> h)
    {
        handle_ = h;
        const bool timed = opts_.timeout.count() > 0;
        if constexpr (native_timeouts) {
            if (timed)
                id_ = issue(opts_.timeout);
        }
        if (!id_)
            id_ = issue();
        backend_->submit();
        if (!opts_.stop.stop_possible() && !(timed && !native_timeouts))
            return;
        state_ = std::make_shared<detail::CancelState<B>>();
        state_->backend = backend_;
        state_->id = id_;
        if (timed && !native_timeouts) {
            timer_.emplace(*loop_, [this](std::uint64_t) {
                state_->cancel(detail::CancelState<B>::Cause::timeout);
            });
            timer_->start(opts_.timeout);
        }
        if (opts_.stop.stop_possible()) // runs at once if stop was requested meanwhile
            stop_cb_.emplace(opts_.stop, detail::StopCanceller<B>{loop_, state_});
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
            if (self) {
                self->backend_ = nullptr;
                self->disarm();
            }
        }
        void operator()(ssize_t res)
        {
            IoAwaitable* s = std::exchange(self, nullptr);
            s->id_ = 0;
            const bool timed_out =
                s->state_ && s->state_->cause == detail::CancelState<B>::Cause::timeout;
            s->disarm();
            s->result_ = res == -ECANCELED && timed_out ? -ETIMEDOUT : res;
            s->handle_.resume();
        }
    };

    /// Prepares the request: backend_->read(where..., span, off, cb[, t]).
    template <class... Timeout>
    RequestId issue(Timeout... t)
    {
        return std::apply(
            [&](const auto&... where) {
                if (write_)
                    return backend_->write(where..., std::span<const std::byte>(buf_, len_),
                                           off_, Resumer{this}, t...);
                return backend_->read(where..., std::span<std::byte>(buf_, len_), off_,
                                      Resumer{this}, t...);
            },
            where_);
    }

    /// No cancellation after this: the stop callback is gone (its
    /// destructor waits for one running on another thread), posted
    /// cancels find nothing to cancel, the timer is stopped.
    void disarm() noexcept
    {
        stop_cb_.reset();
        if (state_)
            state_->id = 0;
        timer_.reset();
    }

    B* backend_;
    Where where_;
    std::byte* buf_;
    std::size_t len_;
    std::uint64_t off_;
    bool write_;
    Loop* loop_;
    IoOptions opts_;
    RequestId id_ = 0;
    ssize_t result_ = 0;
    std::coroutine_handle<> handle_;
    std::shared_ptr<detail::CancelState<B>> state_;
    std::optional<Timer> timer_;
    std::optional<std::stop_callback<detail::StopCanceller<B>>> stop_cb_;
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

/// As above, cancellable and/or bounded in time (IoOptions). `loop` is
/// the Loop `backend` runs on. Throws std::invalid_argument for a
/// negative timeout.
template <IoBackend B>
[[nodiscard]] IoAwaitable<B> async_read(Loop& loop, B& backend, int fd, std::span<std::byte> buf,
                                        std::uint64_t offset, IoOptions opts)
{
    detail::check_timeout(opts, "asyncdev::async_read");
    return {backend, fd, buf.data(), buf.size(), offset, false, &loop, std::move(opts)};
}

template <IoBackend B>
[[nodiscard]] IoAwaitable<B> async_write(Loop& loop, B& backend, int fd,
                                         std::span<const std::byte> buf, std::uint64_t offset,
                                         IoOptions opts)
{
    detail::check_timeout(opts, "asyncdev::async_write");
    return {backend,  fd,   const_cast<std::byte*>(buf.data()), buf.size(), offset, true,
            &loop, std::move(opts)};
}

/// The same on a backend's registered file and/or buffer, for any backend
/// whose read()/write() take them before the span; on a Uring:
///
///     co_await async_read(ring, Uring::FixedFile{0}, buf, off);
///     co_await async_read(ring, fd, Uring::FixedBuffer{0}, span, off);
///     co_await async_write(loop, ring, Uring::FixedFile{0}, Uring::FixedBuffer{0},
///                          span, off, {stop_token, 50ms});
///
/// The backend checks its preconditions when the request is prepared, at
/// the co_await (Uring: std::out_of_range for an index not registered,
/// std::invalid_argument for a span outside its buffer; the exception
/// leaves the co_await and nothing is submitted). While the coroutine is
/// suspended the request uses the registration (Uring::unregister_files()
/// and unregister_buffers() refuse). IoOptions as above: a Uring's
/// timeout is the kernel's linked timeout on these forms too.
template <IoBackend B, detail::NotAnFd File>
    requires detail::ReadsWritesOn<B, File>
[[nodiscard]] IoAwaitable<B, std::tuple<File>> async_read(B& backend, File file,
                                                          std::span<std::byte> buf,
                                                          std::uint64_t offset = 0)
{
    return {backend, std::tuple<File>{file}, buf.data(), buf.size(), offset, false};
}

template <IoBackend B, detail::NotAnFd File>
    requires detail::ReadsWritesOn<B, File>
[[nodiscard]] IoAwaitable<B, std::tuple<File>> async_write(B& backend, File file,
                                                           std::span<const std::byte> buf,
                                                           std::uint64_t offset = 0)
{
    return {backend, std::tuple<File>{file}, const_cast<std::byte*>(buf.data()), buf.size(),
            offset, true};
}

template <IoBackend B, class File, class Reg>
    requires detail::ReadsWritesOn<B, File, Reg>
[[nodiscard]] IoAwaitable<B, std::tuple<File, Reg>> async_read(B& backend, File file, Reg reg,
                                                               std::span<std::byte> buf,
                                                               std::uint64_t offset = 0)
{
    return {backend, std::tuple<File, Reg>{file, reg}, buf.data(), buf.size(), offset, false};
}

template <IoBackend B, class File, class Reg>
    requires detail::ReadsWritesOn<B, File, Reg>
[[nodiscard]] IoAwaitable<B, std::tuple<File, Reg>> async_write(B& backend, File file, Reg reg,
                                                                std::span<const std::byte> buf,
                                                                std::uint64_t offset = 0)
{
    return {backend, std::tuple<File, Reg>{file, reg}, const_cast<std::byte*>(buf.data()),
            buf.size(), offset, true};
}

template <IoBackend B, detail::NotAnFd File>
    requires detail::ReadsWritesOn<B, File>
[[nodiscard]] IoAwaitable<B, std::tuple<File>> async_read(Loop& loop, B& backend, File file,
                                                          std::span<std::byte> buf,
                                                          std::uint64_t offset, IoOptions opts)
{
    detail::check_timeout(opts, "asyncdev::async_read");
    return {backend, std::tuple<File>{file}, buf.data(), buf.size(), offset, false, &loop,
            std::move(opts)};
}

template <IoBackend B, detail::NotAnFd File>
    requires detail::ReadsWritesOn<B, File>
[[nodiscard]] IoAwaitable<B, std::tuple<File>> async_write(Loop& loop, B& backend, File file,
                                                           std::span<const std::byte> buf,
                                                           std::uint64_t offset, IoOptions opts)
{
    detail::check_timeout(opts, "asyncdev::async_write");
    return {backend, std::tuple<File>{file}, const_cast<std::byte*>(buf.data()), buf.size(),
            offset, true, &loop, std::move(opts)};
}

template <IoBackend B, class File, class Reg>
    requires detail::ReadsWritesOn<B, File, Reg>
[[nodiscard]] IoAwaitable<B, std::tuple<File, Reg>>
async_read(Loop& loop, B& backend, File file, Reg reg, std::span<std::byte> buf,
           std::uint64_t offset, IoOptions opts)
{
    detail::check_timeout(opts, "asyncdev::async_read");
    return {backend, std::tuple<File, Reg>{file, reg}, buf.data(), buf.size(), offset, false,
            &loop, std::move(opts)};
}

template <IoBackend B, class File, class Reg>
    requires detail::ReadsWritesOn<B, File, Reg>
[[nodiscard]] IoAwaitable<B, std::tuple<File, Reg>>
async_write(Loop& loop, B& backend, File file, Reg reg, std::span<const std::byte> buf,
            std::uint64_t offset, IoOptions opts)
{
    detail::check_timeout(opts, "asyncdev::async_write");
    return {backend, std::tuple<File, Reg>{file, reg}, const_cast<std::byte*>(buf.data()),
            buf.size(), offset, true, &loop, std::move(opts)};
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
