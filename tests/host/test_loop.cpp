// Loop: fd readiness, posts from other threads, stop, timers, signals.
#include "test_util.h"

#include <atomic>
#include <csignal>
#include <stdexcept>
#include <thread>

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>

using namespace test;

static void test_post_from_other_thread_runs_on_loop_thread(void**)
{
    asyncdev::Loop loop;
    pid_t ran_on = 0;
    std::thread t([&] { loop.post([&] { ran_on = ::gettid(); }); });
    t.join();
    assert_true(run_until(loop, [&] { return ran_on != 0; }));
    assert_int_equal(ran_on, loop.thread_id());
    assert_true(loop.in_loop_thread());
}

static void test_posts_run_in_order(void**)
{
    asyncdev::Loop loop;
    std::vector<int> order;
    for (int i = 0; i < 5; ++i)
        loop.post([&order, i] { order.push_back(i); });
    assert_int_equal(loop.run_once(0ms), 5);
    assert_true((order == std::vector<int>{0, 1, 2, 3, 4}));
}

static void test_stop_from_other_thread_ends_run(void**)
{
    asyncdev::Loop loop;
    const auto start = Clock::now(); // before the thread: it may run first
    std::thread t([&] {
        std::this_thread::sleep_for(20ms);
        loop.stop();
    });
    loop.run();
    t.join();
    assert_true(Clock::now() - start >= 15ms);
    // The stop request is consumed: a later run_once waits again.
    assert_int_equal(loop.run_once(0ms), 0);
}

static void test_run_once_times_out(void**)
{
    asyncdev::Loop loop;
    const auto start = Clock::now();
    assert_int_equal(loop.run_once(30ms), 0);
    assert_true(Clock::now() - start >= 25ms);
}

static void test_fd_watch_reports_readable_until_reset(void**)
{
    asyncdev::Loop loop;
    Pair p = make_pipe(O_NONBLOCK | O_CLOEXEC);
    int calls = 0;
    std::uint32_t seen = 0;
    auto w = loop.watch_fd(p.a.get(), EPOLLIN, [&](std::uint32_t ev) {
        ++calls;
        seen = ev;
    });
    assert_int_equal(loop.run_once(0ms), 0); // empty pipe: nothing
    assert_int_equal(::write(p.b.get(), "x", 1), 1);
    assert_true(run_until(loop, [&] { return calls > 0; }));
    assert_true(seen & EPOLLIN);
    w.reset();
    const int before = calls;
    loop.run_once(20ms); // still readable, but unwatched
    assert_int_equal(calls, before);
}

static void test_watch_reset_inside_own_callback(void**)
{
    asyncdev::Loop loop;
    int efd = ::eventfd(1, EFD_NONBLOCK | EFD_CLOEXEC);
    asyncdev::UniqueFd guard(efd);
    int calls = 0;
    asyncdev::Loop::Watch w;
    w = loop.watch_fd(efd, EPOLLIN, [&](std::uint32_t) {
        ++calls;
        w.reset();
    });
    loop.run_once(0ms);
    loop.run_once(10ms);
    assert_int_equal(calls, 1);
    assert_false(static_cast<bool>(w));
}

static void test_watch_modify_changes_events(void**)
{
    asyncdev::Loop loop;
    Pair p = make_pipe(O_NONBLOCK | O_CLOEXEC);
    std::uint32_t seen = 0;
    auto w = loop.watch_fd(p.b.get(), EPOLLIN, [&](std::uint32_t ev) { seen |= ev; });
    loop.run_once(10ms);
    assert_int_equal(seen & EPOLLOUT, 0);
    w.modify(EPOLLOUT);
    assert_true(run_until(loop, [&] { return (seen & EPOLLOUT) != 0; }));
}

static void test_second_watch_on_fd_throws_eexist(void**)
{
    asyncdev::Loop loop;
    Pair p = make_pipe();
    auto w = loop.watch_fd(p.a.get(), EPOLLIN, [](std::uint32_t) {});
    try {
        auto w2 = loop.watch_fd(p.a.get(), EPOLLIN, [](std::uint32_t) {});
        fail_msg("no exception");
    } catch (const std::system_error& e) {
        assert_int_equal(e.code().value(), EEXIST);
        assert_string_equal(e.what(), "epoll_ctl(EPOLL_CTL_ADD): File exists");
    }
}

static void test_timer_one_shot_and_periodic(void**)
{
    asyncdev::Loop loop;
    int once = 0;
    std::uint64_t ticks = 0;
    asyncdev::Timer t1(loop, [&](std::uint64_t n) { once += static_cast<int>(n); });
    asyncdev::Timer t2(loop, [&](std::uint64_t n) { ticks += n; });
    const auto start = Clock::now();
    t1.start(20ms);
    t2.start(5ms, 5ms);
    assert_true(run_until(loop, [&] { return once == 1 && ticks >= 5; }));
    assert_true(Clock::now() - start >= 20ms);
    t2.stop();
    const std::uint64_t frozen = ticks;
    loop.run_once(30ms);
    assert_int_equal(ticks, frozen);
    assert_int_equal(once, 1);
}

static void test_timer_destroyed_in_own_callback(void**)
{
    asyncdev::Loop loop;
    int calls = 0;
    std::optional<asyncdev::Timer> t;
    t.emplace(loop, [&](std::uint64_t) {
        ++calls;
        t.reset();
    });
    t->start(1ms, 1ms);
    assert_true(run_until(loop, [&] { return !t.has_value(); }));
    loop.run_once(10ms);
    assert_int_equal(calls, 1);
}

static bool is_blocked(int signo)
{
    sigset_t cur;
    pthread_sigmask(SIG_BLOCK, nullptr, &cur);
    return sigismember(&cur, signo) == 1;
}

static void test_signal_watch_delivers_and_restores_mask(void**)
{
    assert_false(is_blocked(SIGUSR1));
    {
        asyncdev::Loop loop;
        int got = 0;
        std::int32_t value = 0;
        auto w1 = loop.watch_signal(SIGUSR1, [&](const signalfd_siginfo& si) {
            ++got;
            value = si.ssi_int;
        });
        int got2 = 0;
        auto w2 = loop.watch_signal(SIGUSR1, [&](const signalfd_siginfo&) { ++got2; });
        assert_true(is_blocked(SIGUSR1));
        sigval v{};
        v.sival_int = 42;
        assert_int_equal(::sigqueue(::getpid(), SIGUSR1, v), 0);
        assert_true(run_until(loop, [&] { return got == 1 && got2 == 1; }));
        assert_int_equal(value, 42);
        w2.reset();
        assert_true(is_blocked(SIGUSR1)); // w1 still there
        // Pending at removal: consumed, not delivered with default action.
        ::sigqueue(::getpid(), SIGUSR1, v);
    }
    assert_false(is_blocked(SIGUSR1));
}

static void test_callback_exception_propagates_and_loop_survives(void**)
{
    asyncdev::Loop loop;
    int later = 0;
    loop.post([] { throw std::runtime_error("boom"); });
    loop.post([&] { ++later; });
    bool thrown = false;
    try {
        loop.run_once(0ms);
    } catch (const std::runtime_error& e) {
        thrown = std::string(e.what()) == "boom";
    }
    assert_true(thrown);
    assert_true(run_until(loop, [&] { return later == 1; }));
}

// Issue 13, defect 2: events already taken from epoll in the batch of a
// throwing callback are delivered by the next run_once (EPOLLET would
// never report them again).
static void test_throwing_fd_callback_keeps_rest_of_batch(void**)
{
    asyncdev::Loop loop;
    Pair p = make_pipe(O_NONBLOCK | O_CLOEXEC), q = make_pipe(O_NONBLOCK | O_CLOEXEC);
    assert_int_equal(::write(p.b.get(), "p", 1), 1);
    assert_int_equal(::write(q.b.get(), "q", 1), 1);
    int calls_p = 0, calls_q = 0;
    bool thrown = false;
    auto on_ready = [&](int& calls) {
        ++calls;
        if (!std::exchange(thrown, true))
            throw std::runtime_error("first");
    };
    auto wp = loop.watch_fd(p.a.get(), EPOLLIN | EPOLLET, [&](std::uint32_t) { on_ready(calls_p); });
    auto wq = loop.watch_fd(q.a.get(), EPOLLIN | EPOLLET, [&](std::uint32_t) { on_ready(calls_q); });
    bool caught = false;
    try {
        loop.run_once(0ms);
    } catch (const std::runtime_error&) {
        caught = true;
    }
    assert_true(caught);
    assert_int_equal(calls_p + calls_q, 1);
    loop.run_once(0ms);
    loop.run_once(0ms);
    assert_int_equal(calls_p, 1);
    assert_int_equal(calls_q, 1);
}

// Likewise for signals read from the signalfd in one batch: the other
// watches of the same signal and the other signals still run.
static void test_throwing_signal_callback_keeps_rest_of_batch(void**)
{
    asyncdev::Loop loop;
    int a = 0, b = 0, c = 0;
    auto wa = loop.watch_signal(SIGUSR1, [&](const signalfd_siginfo&) {
        if (++a == 1)
            throw std::runtime_error("first");
    });
    auto wb = loop.watch_signal(SIGUSR1, [&](const signalfd_siginfo&) { ++b; });
    auto wc = loop.watch_signal(SIGUSR2, [&](const signalfd_siginfo&) { ++c; });
    // Both pending in the loop thread before it reads: one signalfd read.
    assert_int_equal(::syscall(SYS_tgkill, ::getpid(), ::gettid(), SIGUSR1), 0);
    assert_int_equal(::syscall(SYS_tgkill, ::getpid(), ::gettid(), SIGUSR2), 0);
    bool caught = false;
    try {
        loop.run_once(0ms);
    } catch (const std::runtime_error&) {
        caught = true;
    }
    assert_true(caught);
    loop.run_once(0ms);
    loop.run_once(0ms);
    assert_int_equal(a, 1);
    assert_int_equal(b, 1);
    assert_int_equal(c, 1);
}

// Issue 13, item 7: the preconditions are checked in release builds too
// (NDEBUG removed the asserts that stood here): use on another thread
// throws std::logic_error naming the call.
static void test_use_off_the_loop_thread_throws_logic_error(void**)
{
    asyncdev::Loop loop;
    asyncdev::Uring io(loop);
    Pair p = make_pipe();
    std::string run_err, watch_err, submit_err;
    std::thread t([&] {
        try {
            loop.run_once(0ms);
        } catch (const std::logic_error& e) {
            run_err = e.what();
        }
        try {
            (void)loop.watch_fd(p.a.get(), EPOLLIN, [](std::uint32_t) {});
        } catch (const std::logic_error& e) {
            watch_err = e.what();
        }
        try {
            io.submit();
        } catch (const std::logic_error& e) {
            submit_err = e.what();
        }
    });
    t.join();
    assert_string_equal(run_err.c_str(),
                        "Loop::run_once: not on the loop thread (the thread that constructed the Loop)");
    assert_string_equal(watch_err.c_str(),
                        "Loop::watch_fd: not on the loop thread (the thread that constructed the Loop)");
    assert_string_equal(submit_err.c_str(), "asyncdev I/O backend: submit: not on the loop thread "
                                            "(the thread that constructed the Loop)");
}

// ... and a Loop destroyed under a live fd watch stops the process with a
// message rather than leave the watch's owner a dangling Loop.
static void test_destroying_loop_under_a_watch_aborts(void**)
{
    Pair p = make_pipe();
    const pid_t pid = ::fork();
    if (pid == 0) {
        static asyncdev::Loop::Watch w; // outlives the Loop on purpose
        auto* loop = new asyncdev::Loop;
        w = loop->watch_fd(p.a.get(), EPOLLIN, [](std::uint32_t) {});
        delete loop;
        ::_exit(0);
    }
    assert_true(pid > 0);
    int status = 0;
    assert_int_equal(::waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
}

int main()
{
    test::filter_from_env();
    const CMUnitTest tests[] = {
        cmocka_unit_test(test_post_from_other_thread_runs_on_loop_thread),
        cmocka_unit_test(test_posts_run_in_order),
        cmocka_unit_test(test_stop_from_other_thread_ends_run),
        cmocka_unit_test(test_run_once_times_out),
        cmocka_unit_test(test_fd_watch_reports_readable_until_reset),
        cmocka_unit_test(test_watch_reset_inside_own_callback),
        cmocka_unit_test(test_watch_modify_changes_events),
        cmocka_unit_test(test_second_watch_on_fd_throws_eexist),
        cmocka_unit_test(test_timer_one_shot_and_periodic),
        cmocka_unit_test(test_timer_destroyed_in_own_callback),
        cmocka_unit_test(test_signal_watch_delivers_and_restores_mask),
        cmocka_unit_test(test_callback_exception_propagates_and_loop_survives),
        cmocka_unit_test(test_throwing_fd_callback_keeps_rest_of_batch),
        cmocka_unit_test(test_throwing_signal_callback_keeps_rest_of_batch),
        cmocka_unit_test(test_use_off_the_loop_thread_throws_logic_error),
        cmocka_unit_test(test_destroying_loop_under_a_watch_aborts),
    };
    return cmocka_run_group_tests_name("loop", tests, nullptr, nullptr);
}
