// PosixAio: aiocb requests, lio_listio batches, both notification modes,
// folded results, cancel, aio_suspend waits and destruction in flight.
#include "test_util.h"

#include <stdexcept>
#include <thread>

using namespace test;
using Notify = asyncdev::PosixAio::Notify;

static void round_trip(Notify mode)
{
    asyncdev::Loop loop;
    asyncdev::PosixAio aio(loop, mode);
    asyncdev::UniqueFd f = make_tmpfile();
    const auto out = pattern(8192, 1);
    std::vector<std::byte> in(8192);
    ssize_t wres = -1, rres = -1;
    pid_t ran_on = 0;
    aio.write(f.get(), out, 0, [&](ssize_t r) {
        wres = r;
        ran_on = ::gettid();
    });
    assert_int_equal(aio.submit(), 1);
    assert_true(run_until(loop, [&] { return wres >= 0; }));
    assert_int_equal(wres, 8192);
    assert_int_equal(ran_on, loop.thread_id());
    aio.read(f.get(), in, 0, [&](ssize_t r) { rres = r; });
    aio.submit();
    assert_true(run_until(loop, [&] { return rres >= 0; }));
    assert_int_equal(rres, 8192);
    assert_true(in == out);
    assert_int_equal(aio.in_flight(), 0);
}

static void test_round_trip_sigev_signal(void**) { round_trip(Notify::signal); }
static void test_round_trip_sigev_thread(void**)
{
    SKIP_UNDER_TSAN("SIGEV_THREAD notifications run on a glibc thread TSan cannot see");
    round_trip(Notify::thread);
}

static void batch(Notify mode)
{
    asyncdev::Loop loop;
    asyncdev::PosixAio aio(loop, mode);
    asyncdev::UniqueFd f = make_tmpfile();
    constexpr int n = 8;
    std::vector<std::vector<std::byte>> bufs;
    for (int i = 0; i < n; ++i)
        bufs.push_back(pattern(512, static_cast<unsigned>(i)));
    int done = 0, ok = 0;
    for (int i = 0; i < n; ++i)
        aio.write(f.get(), bufs[i], static_cast<std::uint64_t>(i) * 512, [&](ssize_t r) {
            ++done;
            ok += r == 512;
        });
    assert_int_equal(aio.queued(), n);
    assert_int_equal(aio.submit(), n); // one lio_listio
    assert_true(run_until(loop, [&] { return done == n; }));
    assert_int_equal(ok, n);
    std::vector<std::byte> all(n * 512);
    assert_int_equal(::pread(f.get(), all.data(), all.size(), 0), n * 512);
    for (int i = 0; i < n; ++i)
        assert_memory_equal(all.data() + i * 512, bufs[i].data(), 512);
}

static void test_lio_listio_batch_signal(void**) { batch(Notify::signal); }
static void test_lio_listio_batch_thread(void**)
{
    SKIP_UNDER_TSAN("SIGEV_THREAD notifications run on a glibc thread TSan cannot see");
    batch(Notify::thread);
}

static void test_error_is_folded_into_result(void**)
{
    asyncdev::Loop loop;
    asyncdev::PosixAio aio(loop);
    Pair p = make_pipe();
    std::vector<std::byte> buf(16);
    ssize_t res = 0;
    aio.read(p.b.get(), buf, 0, [&](ssize_t r) { res = r; }); // write end: EBADF
    aio.submit();
    assert_true(run_until(loop, [&] { return res != 0; }));
    assert_int_equal(res, -EBADF);
    assert_int_equal(asyncdev::result_error(res).value(), EBADF);
}

static void test_cancel_before_submit_completes_with_ecanceled(void**)
{
    asyncdev::Loop loop;
    asyncdev::PosixAio aio(loop);
    asyncdev::UniqueFd f = make_tmpfile();
    std::vector<std::byte> buf(16);
    int calls = 0;
    ssize_t res = 0;
    const auto id = aio.read(f.get(), buf, 0, [&](ssize_t r) {
        ++calls;
        res = r;
    });
    assert_true(aio.cancel(id));
    assert_int_equal(calls, 0); // never from inside cancel()
    aio.submit();               // the cancelled one is not submitted
    assert_true(run_until(loop, [&] { return calls == 1; }));
    assert_int_equal(res, -ECANCELED);
    assert_false(aio.cancel(id)); // unknown now
    loop.run_once(10ms);
    assert_int_equal(calls, 1);
}

static void test_wait_times_out_then_completes(void**)
{
    asyncdev::Loop loop;
    asyncdev::PosixAio aio(loop);
    Pair p = make_pipe();
    std::vector<std::byte> buf(4);
    ssize_t res = 0;
    const auto id = aio.read(p.a.get(), buf, 0, [&](ssize_t r) { res = r; });
    assert_false(aio.wait(id, 1ms)); // not submitted yet
    aio.submit();
    const auto start = Clock::now();
    assert_false(aio.wait(id, 30ms)); // empty pipe
    assert_true(Clock::now() - start >= 25ms);
    assert_int_equal(res, 0);
    assert_int_equal(::write(p.b.get(), "abcd", 4), 4);
    assert_true(aio.wait(id, 5s));
    assert_int_equal(res, 4); // the callback ran inside wait()
    assert_memory_equal(buf.data(), "abcd", 4);
}

static void destroy_in_flight(Notify mode)
{
    asyncdev::Loop loop;
    asyncdev::UniqueFd f = make_tmpfile();
    const auto out = pattern(1 << 16, 3);
    Pair p = make_pipe();
    std::vector<std::byte> pbuf(8);
    int calls = 0;
    std::thread feeder;
    {
        asyncdev::PosixAio aio(loop, mode);
        for (int i = 0; i < 16; ++i)
            aio.write(f.get(), out, static_cast<std::uint64_t>(i) << 16, [&](ssize_t) { ++calls; });
        // A read that glibc cannot cancel once started: the destructor must
        // wait for it, and it only finishes when the feeder writes.
        aio.read(p.a.get(), pbuf, 0, [&](ssize_t) { ++calls; });
        aio.submit();
        feeder = std::thread([&] {
            std::this_thread::sleep_for(50ms);
            (void)!::write(p.b.get(), "feedfeed", 8);
        });
    } // cancel, then aio_suspend until glibc is done with every aiocb
    feeder.join();
    assert_int_equal(calls, 0); // callbacks are destroyed, not run
    // Late notifications (signals/threads) are harmless now.
    loop.run_once(20ms);
    assert_int_equal(calls, 0);
}

static void test_destroy_in_flight_signal(void**) { destroy_in_flight(Notify::signal); }
static void test_destroy_in_flight_thread(void**)
{
    SKIP_UNDER_TSAN("SIGEV_THREAD notifications run on a glibc thread TSan cannot see");
    destroy_in_flight(Notify::thread);
}

static void test_abandon_drops_callback(void**)
{
    asyncdev::Loop loop;
    asyncdev::PosixAio aio(loop);
    asyncdev::UniqueFd f = make_tmpfile();
    const auto out = pattern(4096, 9);
    int calls = 0;
    const auto id = aio.write(f.get(), out, 0, [&](ssize_t) { ++calls; });
    aio.submit();
    aio.abandon(id); // returns once glibc no longer uses `out`
    assert_int_equal(aio.in_flight(), 0);
    loop.run_once(20ms);
    assert_int_equal(calls, 0);
}

// Issue 13, defect 2: eight reads complete, their eight signals are read
// in one signalfd batch, the first callback the loop runs throws: the other
// seven still run and nothing stays in flight.
static void test_throwing_callback_loses_no_completion_signal(void**)
{
    asyncdev::Loop loop;
    asyncdev::PosixAio aio(loop, Notify::signal);
    asyncdev::UniqueFd f = make_tmpfile();
    constexpr int n = 8;
    const auto data = pattern(n * 512, 4);
    assert_int_equal(::pwrite(f.get(), data.data(), data.size(), 0), n * 512);
    std::vector<std::vector<std::byte>> bufs(n, std::vector<std::byte>(512));
    int calls = 0;
    asyncdev::RequestId last = 0;
    for (int i = 0; i < n; ++i)
        last = aio.read(f.get(), bufs[i], static_cast<std::uint64_t>(i) * 512, [&](ssize_t) {
            if (++calls == 2) // the first one the loop runs (the last ran in wait())
                throw std::runtime_error("first");
        });
    aio.submit();
    // glibc runs the requests of one fd in order, one after the other:
    // once the last is done, all eight signals are pending.
    assert_true(aio.wait(last, 5s));
    assert_int_equal(calls, 1);
    bool caught = false;
    try {
        loop.run_once(0ms);
    } catch (const std::runtime_error&) {
        caught = true;
    }
    assert_true(caught);
    assert_true(run_until(loop, [&] { return calls == n; }));
    assert_int_equal(aio.in_flight(), 0);
}

int main()
{
    test::filter_from_env();
    tsan_one_aio_helper_thread();
    const CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_sigev_signal),
        cmocka_unit_test(test_round_trip_sigev_thread),
        cmocka_unit_test(test_lio_listio_batch_signal),
        cmocka_unit_test(test_lio_listio_batch_thread),
        cmocka_unit_test(test_error_is_folded_into_result),
        cmocka_unit_test(test_cancel_before_submit_completes_with_ecanceled),
        cmocka_unit_test(test_wait_times_out_then_completes),
        cmocka_unit_test(test_destroy_in_flight_signal),
        cmocka_unit_test(test_destroy_in_flight_thread),
        cmocka_unit_test(test_abandon_drops_callback),
        cmocka_unit_test(test_throwing_callback_loses_no_completion_signal),
    };
    return cmocka_run_group_tests_name("posix_aio", tests, nullptr, nullptr);
}
