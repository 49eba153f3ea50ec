// Cancelling awaited requests (issue 13, item 11): std::stop_token and
// per-request timeouts (io_uring linked timeouts on a Uring; a Loop Timer
// plus cancel() on other backends, here a Uring seen as IoEngine&).
// Hostile cases: a task destroyed while suspended on a timeout, stop
// requested after completion (no second resumption), stop and timeout
// together, a backend destroyed under a cancellable request.
#include "test_util.h"

#include <optional>
#include <stop_token>
#include <thread>

using namespace test;
using asyncdev::IoOptions;
using asyncdev::Task;

namespace {

template <class B>
Task<ssize_t> read_opts(asyncdev::Loop& loop, B& io, int fd, IoOptions opts, int* resumes = nullptr)
{
    std::vector<std::byte> buf(16);
    const ssize_t r = co_await asyncdev::async_read(loop, io, fd, buf, 0, std::move(opts));
    if (resumes)
        ++*resumes;
    co_return r;
}

template <class B>
void times_out(B& io, asyncdev::Loop& loop)
{
    Pair p = make_pipe();
    const auto start = Clock::now();
    const ssize_t r = asyncdev::sync_wait(loop, read_opts(loop, io, p.a.get(), 30ms));
    const auto took = Clock::now() - start;
    assert_int_equal(r, -ETIMEDOUT);
    assert_true(took >= 30ms);
    assert_true(took < 2s);
    assert_int_equal(io.in_flight(), 0);
    // The pipe is untouched: data written now is still there.
    assert_int_equal(::write(p.b.get(), "z", 1), 1);
    char c;
    assert_int_equal(::read(p.a.get(), &c, 1), 1);
}

template <class B>
void completes_before_timeout(B& io, asyncdev::Loop& loop)
{
    Pair p = make_pipe();
    asyncdev::Timer w(loop, [&](std::uint64_t) { (void)!::write(p.b.get(), "in time", 7); });
    w.start(5ms);
    assert_int_equal(asyncdev::sync_wait(loop, read_opts(loop, io, p.a.get(), 2s)), 7);
    // Nothing fires later (the timer / linked timeout is gone).
    loop.run_once(20ms);
    assert_int_equal(io.in_flight(), 0);
}

template <class B>
void destroyed_while_suspended_on_timeout(B& io, asyncdev::Loop& loop)
{
    Pair p = make_pipe();
    int resumes = 0;
    {
        Task<ssize_t> t = read_opts(loop, io, p.a.get(), 20ms, &resumes);
        t.start();
        loop.run_once(5ms);
        assert_int_equal(io.in_flight(), 1);
    } // abandons the read; its timeout must not fire into the freed frame
    assert_int_equal(io.in_flight(), 0);
    const auto end = Clock::now() + 60ms;
    while (Clock::now() < end)
        loop.run_once(10ms);
    assert_int_equal(resumes, 0);
}

} // namespace

static void test_stop_on_loop_thread_cancels_pending_read(void**)
{
    asyncdev::Loop loop;
    asyncdev::Uring io(loop);
    Pair p = make_pipe();
    std::stop_source src;
    asyncdev::Timer stopper(loop, [&](std::uint64_t) { src.request_stop(); });
    stopper.start(10ms);
    assert_int_equal(
        asyncdev::sync_wait(loop, read_opts(loop, io, p.a.get(), src.get_token())),
        -ECANCELED);
    assert_int_equal(io.in_flight(), 0);
}

static void test_stop_from_another_thread_cancels_pending_read(void**)
{
    asyncdev::Loop loop;
    asyncdev::Uring io(loop);
    Pair p = make_pipe();
    std::stop_source src;
    std::thread t([&] {
        std::this_thread::sleep_for(20ms);
        src.request_stop();
    });
    const ssize_t r =
        asyncdev::sync_wait(loop, read_opts(loop, io, p.a.get(), src.get_token()));
    t.join();
    assert_int_equal(r, -ECANCELED);
}

static void test_stop_before_await_submits_nothing(void**)
{
    asyncdev::Loop loop;
    asyncdev::Uring io(loop);
    Pair p = make_pipe();
    assert_int_equal(::write(p.b.get(), "unread", 6), 6);
    std::stop_source src;
    src.request_stop();
    assert_int_equal(
        asyncdev::sync_wait(loop, read_opts(loop, io, p.a.get(), src.get_token())),
        -ECANCELED);
    assert_int_equal(io.in_flight() + io.queued(), 0);
    char buf[8];
    assert_int_equal(::read(p.a.get(), buf, sizeof buf), 6); // not consumed
}

// Hostile: stop requested after the request completed (and after the
// awaiting coroutine went on): nothing happens, no second resumption.
static void test_stop_after_completion_does_not_resume_again(void**)
{
    asyncdev::Loop loop;
    asyncdev::Uring io(loop);
    Pair p = make_pipe();
    std::stop_source src;
    int resumes = 0;
    bool stopped_ok = false;
    auto body = [&]() -> Task<ssize_t> {
        const ssize_t r = co_await read_opts(loop, io, p.a.get(), src.get_token(), &resumes);
        src.request_stop(); // after completion, the token still in scope
        co_await asyncdev::sleep_for(loop, 10ms);
        stopped_ok = true;
        co_return r;
    };
    assert_int_equal(::write(p.b.get(), "done", 4), 4);
    assert_int_equal(asyncdev::sync_wait(loop, body()), 4);
    loop.run_once(10ms);
    assert_int_equal(resumes, 1);
    assert_true(stopped_ok);
}

// Stop requested in the same batch as the completion, from a callback
// that runs first: the request is cancelled or completes, exactly once.
static void test_stop_racing_completion_resumes_once(void**)
{
    asyncdev::Loop loop;
    asyncdev::Uring io(loop);
    asyncdev::UniqueFd f = make_tmpfile();
    assert_int_equal(::pwrite(f.get(), "file", 4, 0), 4);
    for (int i = 0; i < 50; ++i) {
        std::stop_source src;
        int resumes = 0;
        Task<ssize_t> t = read_opts(loop, io, f.get(), src.get_token(), &resumes);
        t.start();
        loop.post([&] { src.request_stop(); });
        while (!t.done())
            loop.run_once();
        const ssize_t r = t.result();
        assert_true(r == 4 || r == -ECANCELED);
        loop.run_once(0ms);
        assert_int_equal(resumes, 1);
    }
}

static void test_uring_linked_timeout(void**)
{
    asyncdev::Loop loop;
    asyncdev::Uring io(loop);
    times_out(io, loop);
}

static void test_timer_timeout_on_ioengine(void**)
{
    asyncdev::Loop loop;
    asyncdev::Uring ring(loop);
    asyncdev::IoEngine& io = ring; // no native timeouts: Timer + cancel()
    times_out(io, loop);
}

static void test_uring_completes_before_linked_timeout(void**)
{
    asyncdev::Loop loop;
    asyncdev::Uring io(loop);
    completes_before_timeout(io, loop);
}

static void test_completes_before_timer_timeout(void**)
{
    asyncdev::Loop loop;
    asyncdev::Uring ring(loop);
    asyncdev::IoEngine& io = ring;
    completes_before_timeout(io, loop);
}

// Hostile: the task is destroyed while suspended on a request with a timeout.
static void test_destroyed_while_suspended_on_linked_timeout(void**)
{
    asyncdev::Loop loop;
    asyncdev::Uring io(loop);
    destroyed_while_suspended_on_timeout(io, loop);
}

static void test_destroyed_while_suspended_on_timer_timeout(void**)
{
    asyncdev::Loop loop;
    asyncdev::Uring ring(loop);
    asyncdev::IoEngine& io = ring;
    destroyed_while_suspended_on_timeout(io, loop);
}

// Stop first, then the timeout expires: -ECANCELED (the first cause wins).
static void test_stop_before_timeout_gives_ecanceled(void**)
{
    asyncdev::Loop loop;
    asyncdev::Uring ring(loop);
    asyncdev::IoEngine& io = ring;
    Pair p = make_pipe();
    std::stop_source src;
    asyncdev::Timer stopper(loop, [&](std::uint64_t) { src.request_stop(); });
    stopper.start(5ms);
    // IoOptions built in the co_await expression itself (an aggregate there
    // is destroyed twice by GCC 12: IoOptions is a class for that reason).
    auto body = [&]() -> Task<ssize_t> {
        std::vector<std::byte> buf(8);
        co_return co_await asyncdev::async_read(loop, io, p.a.get(), buf, 0,
                                                {src.get_token(), 10ms});
    };
    assert_int_equal(asyncdev::sync_wait(loop, body()), -ECANCELED);
}

// The backend is destroyed under a cancellable, timed request: the
// coroutine stays suspended, and neither the stop callback nor the timer
// may touch the dead backend.
static void test_backend_destroyed_under_cancellable_request(void**)
{
    asyncdev::Loop loop;
    Pair p = make_pipe();
    std::optional<asyncdev::Uring> ring;
    ring.emplace(loop);
    std::stop_source src;
    int resumes = 0;
    auto body = [&]() -> Task<ssize_t> {
        asyncdev::IoEngine& io = *ring;
        co_return co_await read_opts(loop, io, p.a.get(),
                                     {src.get_token(), 10ms}, &resumes);
    };
    Task<ssize_t> t = body();
    t.start();
    loop.run_once(1ms);
    ring.reset();
    src.request_stop();
    const auto end = Clock::now() + 40ms;
    while (Clock::now() < end)
        loop.run_once(10ms);
    assert_int_equal(resumes, 0);
    assert_false(t.done());
}

// The raw Uring API: a linked timeout and cancel() on the same request.
static void test_uring_cancel_timed_request_gives_ecanceled(void**)
{
    asyncdev::Loop loop;
    asyncdev::Uring io(loop);
    Pair p = make_pipe();
    std::vector<std::byte> buf(8);
    ssize_t res = 1;
    int calls = 0;
    const auto id = io.read(p.a.get(), buf, 0, [&](ssize_t r) {
        res = r;
        ++calls;
    }, 5s);
    io.submit();
    loop.run_once(5ms);
    assert_true(io.cancel(id));
    assert_true(run_until(loop, [&] { return calls > 0; }));
    loop.run_once(10ms);
    assert_int_equal(calls, 1);
    assert_int_equal(res, -ECANCELED);
    assert_int_equal(io.in_flight(), 0);
}

static void test_uring_destroy_with_timed_requests_in_flight(void**)
{
    asyncdev::Loop loop;
    Pair p = make_pipe();
    std::vector<std::byte> buf(8);
    int calls = 0;
    {
        asyncdev::Uring io(loop, 2);
        for (int i = 0; i < 4; ++i) // two in the kernel, two in the backlog
            io.read(p.a.get(), buf, 0, [&](ssize_t) { ++calls; }, 10s);
        io.submit();
        loop.run_once(5ms);
        assert_int_equal(io.in_flight(), 2);
    }
    assert_int_equal(calls, 0);
}

static void test_bad_timeouts_are_rejected(void**)
{
    asyncdev::Loop loop;
    asyncdev::Uring io(loop);
    std::vector<std::byte> buf(8);
    bool thrown = false;
    try {
        (void)io.read(0, buf, 0, [](ssize_t) {}, std::chrono::nanoseconds(0));
    } catch (const std::invalid_argument&) {
        thrown = true;
    }
    assert_true(thrown);
    assert_int_equal(io.queued(), 0);
    thrown = false;
    try {
        (void)asyncdev::async_read(loop, io, 0, buf, 0, -1ms);
    } catch (const std::invalid_argument&) {
        thrown = true;
    }
    assert_true(thrown);
}

int main()
{
    test::filter_from_env();
    const CMUnitTest tests[] = {
        cmocka_unit_test(test_stop_on_loop_thread_cancels_pending_read),
        cmocka_unit_test(test_stop_from_another_thread_cancels_pending_read),
        cmocka_unit_test(test_stop_before_await_submits_nothing),
        cmocka_unit_test(test_stop_after_completion_does_not_resume_again),
        cmocka_unit_test(test_stop_racing_completion_resumes_once),
        cmocka_unit_test(test_uring_linked_timeout),
        cmocka_unit_test(test_timer_timeout_on_ioengine),
        cmocka_unit_test(test_uring_completes_before_linked_timeout),
        cmocka_unit_test(test_completes_before_timer_timeout),
        cmocka_unit_test(test_destroyed_while_suspended_on_linked_timeout),
        cmocka_unit_test(test_destroyed_while_suspended_on_timer_timeout),
        cmocka_unit_test(test_stop_before_timeout_gives_ecanceled),
        cmocka_unit_test(test_backend_destroyed_under_cancellable_request),
        cmocka_unit_test(test_uring_cancel_timed_request_gives_ecanceled),
        cmocka_unit_test(test_uring_destroy_with_timed_requests_in_flight),
        cmocka_unit_test(test_bad_timeouts_are_rejected),
    };
    return cmocka_run_group_tests_name("coro_cancel", tests, nullptr, nullptr);
}
