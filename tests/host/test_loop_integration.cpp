// Loop integration points: native_handle() for another event loop, poll(),
// run_until_idle(), run_once() with any duration, the async-signal-safe
// wakeups and the std::error_code setup calls.
#include "test_util.h"

#include <atomic>
#include <csignal>
#include <stdexcept>
#include <thread>

#include <poll.h>
#include <pthread.h>
#include <sys/epoll.h>

using namespace test;

namespace {

bool readable(int fd)
{
    pollfd p{fd, POLLIN, 0};
    return ::poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

} // namespace

static void test_native_handle_is_readable_while_work_is_ready(void**)
{
    asyncdev::Loop loop;
    assert_true(loop.native_handle() >= 0);
    assert_false(readable(loop.native_handle()));
    int ran = 0;
    loop.post([&] { ++ran; });
    assert_true(readable(loop.native_handle()));
    assert_int_equal(loop.poll(), 1);
    assert_int_equal(ran, 1);
    assert_false(readable(loop.native_handle()));
}

// Events left undelivered by a throwing callback are invisible to epoll
// (already taken, edge-triggered): the epoll fd is made readable for them.
static void test_native_handle_readable_for_events_left_by_a_throw(void**)
{
    asyncdev::Loop loop;
    Pair p1 = make_pipe(O_NONBLOCK | O_CLOEXEC), p2 = make_pipe(O_NONBLOCK | O_CLOEXEC);
    int calls = 0;
    auto cb = [&](std::uint32_t) {
        if (++calls == 1)
            throw std::runtime_error("first");
    };
    auto w1 = loop.watch_fd(p1.a.get(), EPOLLIN | EPOLLET, cb);
    auto w2 = loop.watch_fd(p2.a.get(), EPOLLIN | EPOLLET, cb);
    assert_int_equal(::write(p1.b.get(), "x", 1), 1);
    assert_int_equal(::write(p2.b.get(), "x", 1), 1);
    bool threw = false;
    try {
        loop.poll();
    } catch (const std::runtime_error&) {
        threw = true;
    }
    assert_true(threw);
    assert_int_equal(calls, 1);
    assert_true(readable(loop.native_handle()));
    loop.poll();
    assert_int_equal(calls, 2);
}

static void test_run_until_idle_returns_at_once_when_nothing_pending(void**)
{
    asyncdev::Loop loop;
    Pair p = make_pipe(O_NONBLOCK | O_CLOEXEC);
    auto w = loop.watch_fd(p.a.get(), EPOLLIN, [](std::uint32_t) {}); // does not count
    const auto start = Clock::now();
    assert_int_equal(loop.run_until_idle(), 0);
    assert_true(Clock::now() - start < 1s);
}

static void test_run_until_idle_waits_for_timers_and_posts(void**)
{
    asyncdev::Loop loop;
    std::vector<int> order;
    asyncdev::Timer once(loop, [&](std::uint64_t) {
        order.push_back(1);
        loop.post([&] { order.push_back(2); }); // new work from a callback
    });
    once.start(30ms);
    const auto start = Clock::now();
    loop.run_until_idle();
    assert_true(Clock::now() - start >= 25ms);
    assert_true((order == std::vector<int>{1, 2}));
}

static void test_run_until_idle_waits_for_periodic_timer_until_stopped(void**)
{
    asyncdev::Loop loop;
    int ticks = 0;
    std::unique_ptr<asyncdev::Timer> t;
    t = std::make_unique<asyncdev::Timer>(loop, [&](std::uint64_t n) {
        ticks += static_cast<int>(n);
        if (ticks >= 3)
            t->stop();
    });
    t->start(5ms, 5ms);
    loop.run_until_idle();
    assert_true(ticks >= 3);
}

static void test_run_until_idle_waits_for_io_requests(void**)
{
    tsan_one_aio_helper_thread();
    asyncdev::Loop loop;
    Pair p = make_pipe(O_CLOEXEC); // glibc's read would not wait on O_NONBLOCK
    asyncdev::PosixAio aio(loop);
    std::byte buf[4];
    ssize_t got = -1000;
    aio.read(p.a.get(), buf, 0, [&](ssize_t r) { got = r; });
    // Prepared, not submitted: not pending.
    assert_int_equal(loop.run_until_idle(), 0);
    aio.submit();
    std::thread writer([&] {
        std::this_thread::sleep_for(30ms);
        (void)!::write(p.b.get(), "abcd", 4);
    });
    loop.run_until_idle();
    writer.join();
    assert_int_equal(got, 4);
}

static void test_run_until_idle_ends_on_stop(void**)
{
    asyncdev::Loop loop;
    asyncdev::Timer t(loop, [](std::uint64_t) {});
    t.start(10ms, 10ms); // pending for ever
    std::thread stopper([&] {
        std::this_thread::sleep_for(30ms);
        loop.stop();
    });
    loop.run_until_idle();
    stopper.join();
}

// Durations other than milliseconds: rounded up, never overflowing.
static void test_run_once_takes_any_duration(void**)
{
    asyncdev::Loop loop;
    auto start = Clock::now();
    assert_int_equal(loop.run_once(std::chrono::microseconds(1500)), 0);
    assert_true(Clock::now() - start >= 1500us);
    start = Clock::now();
    assert_int_equal(loop.run_once(std::chrono::duration<double>(0.02)), 0);
    assert_true(Clock::now() - start >= 20ms);
    start = Clock::now();
    assert_int_equal(loop.run_once(std::chrono::nanoseconds(-5)), 0);
    assert_int_equal(loop.run_once(std::chrono::seconds::zero()), 0);
    assert_true(Clock::now() - start < 1s);
    // Hours, and hours::max() (overflowing milliseconds): wait, until a post.
    for (auto timeout : {std::chrono::hours(2), std::chrono::hours::max()}) {
        std::atomic<bool> posted{false};
        std::thread t([&] {
            std::this_thread::sleep_for(30ms);
            posted = true;
            loop.post([] {});
        });
        start = Clock::now();
        assert_int_equal(loop.run_once(timeout), 1);
        t.join();
        assert_true(posted.load());
        assert_true(Clock::now() - start >= 25ms);
    }
}

namespace {
asyncdev::Loop* signal_loop = nullptr;
// Set in a handler running on another thread: a lock-free atomic, not
// volatile sig_atomic_t (which only covers the interrupted thread).
std::atomic<int> flag{0};
static_assert(std::atomic<int>::is_always_lock_free);
void stop_handler(int) { signal_loop->stop_from_signal(); }
void wake_handler(int)
{
    flag.store(1);
    signal_loop->wakeup();
}

/// A thread that does not block SIGUSR1 (the loop thread does), so the
/// handler runs there and cannot just interrupt the loop's epoll_wait.
struct SignalTarget {
    std::atomic<bool> done{false};
    std::thread t;
    SignalTarget()
        : t([this] {
              sigset_t one;
              sigemptyset(&one);
              sigaddset(&one, SIGUSR1);
              pthread_sigmask(SIG_UNBLOCK, &one, nullptr);
              while (!done.load())
                  std::this_thread::sleep_for(1ms);
          })
    {
    }
    ~SignalTarget()
    {
        done = true;
        t.join();
    }
};

struct Handler {
    struct sigaction old {};
    explicit Handler(void (*h)(int))
    {
        struct sigaction sa {};
        sa.sa_handler = h;
        sigemptyset(&sa.sa_mask);
        ::sigaction(SIGUSR1, &sa, &old);
    }
    ~Handler() { ::sigaction(SIGUSR1, &old, nullptr); }
};

struct Blocked {
    sigset_t one, old;
    Blocked()
    {
        sigemptyset(&one);
        sigaddset(&one, SIGUSR1);
        pthread_sigmask(SIG_BLOCK, &one, &old);
    }
    ~Blocked() { pthread_sigmask(SIG_SETMASK, &old, nullptr); }
};
} // namespace

static void test_stop_from_signal_handler_ends_run(void**)
{
    asyncdev::Loop loop;
    signal_loop = &loop;
    Blocked blocked;
    Handler h(stop_handler);
    SignalTarget target;
    std::thread kicker([&] {
        std::this_thread::sleep_for(30ms);
        ::pthread_kill(target.t.native_handle(), SIGUSR1);
    });
    const auto start = Clock::now();
    loop.run(); // returns only through stop_from_signal()
    kicker.join();
    assert_true(Clock::now() - start >= 25ms);
    signal_loop = nullptr;
}

static void test_wakeup_from_signal_handler_returns_run_once(void**)
{
    asyncdev::Loop loop;
    signal_loop = &loop;
    flag = 0;
    Blocked blocked;
    Handler h(wake_handler);
    SignalTarget target;
    std::thread kicker([&] {
        std::this_thread::sleep_for(30ms);
        ::pthread_kill(target.t.native_handle(), SIGUSR1);
    });
    while (!flag.load())
        loop.run_once(); // forever, unless woken
    kicker.join();
    signal_loop = nullptr;
}

static void test_setup_with_error_code(void**)
{
    std::error_code ec;
    auto loop = asyncdev::Loop::create(ec);
    assert_non_null(loop.get());
    assert_false(static_cast<bool>(ec));

    auto n = asyncdev::SignalNotifier::create(*loop, SIGUSR1, ec); // not real-time
    assert_null(n.get());
    assert_int_equal(ec.value(), EINVAL);
    n = asyncdev::SignalNotifier::create(*loop, 0, ec);
    assert_non_null(n.get());
    assert_false(static_cast<bool>(ec));

    auto aio = asyncdev::PosixAio::create(*loop, asyncdev::PosixAio::Notify::signal, 9999, 8, ec);
    assert_null(aio.get());
    assert_int_equal(ec.value(), EINVAL);

    auto ctx = asyncdev::AioContext::create(*loop, 1u << 30, ec); // beyond aio-max-nr
    assert_null(ctx.get());
    assert_true(ec.value() == EAGAIN || ec.value() == EINVAL || ec.value() == ENOMEM);
    ctx = asyncdev::AioContext::create(*loop, 4, ec);
    assert_non_null(ctx.get());
    assert_false(static_cast<bool>(ec));

    // Misuse is not an error code: it still throws.
    std::atomic<bool> threw{false};
    std::thread t([&] {
        std::error_code ec2;
        try {
            (void)asyncdev::AioContext::create(*loop, 4, ec2);
        } catch (const std::logic_error&) {
            threw = true;
        }
    });
    t.join();
    assert_true(threw.load());
}

int main()
{
    filter_from_env();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_native_handle_is_readable_while_work_is_ready),
        cmocka_unit_test(test_native_handle_readable_for_events_left_by_a_throw),
        cmocka_unit_test(test_run_until_idle_returns_at_once_when_nothing_pending),
        cmocka_unit_test(test_run_until_idle_waits_for_timers_and_posts),
        cmocka_unit_test(test_run_until_idle_waits_for_periodic_timer_until_stopped),
        cmocka_unit_test(test_run_until_idle_waits_for_io_requests),
        cmocka_unit_test(test_run_until_idle_ends_on_stop),
        cmocka_unit_test(test_run_once_takes_any_duration),
        cmocka_unit_test(test_stop_from_signal_handler_ends_run),
        cmocka_unit_test(test_wakeup_from_signal_handler_returns_run_once),
        cmocka_unit_test(test_setup_with_error_code),
    };
    return cmocka_run_group_tests(tests, nullptr, nullptr);
}
