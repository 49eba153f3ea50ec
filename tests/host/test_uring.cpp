// Uring (io_uring): the shared engine behaviour plus what only io_uring
// does asynchronously: reads waiting on empty pipes and sockets, and
// cancelling them.
#include "engine_tests.h"

#include <asyncdev/uring.h>

#include <thread>

using namespace test;
using Engine = asyncdev::Uring;

static void test_round_trip_read_write(void**) { engine_round_trip_read_write<Engine>(); }
static void test_vectored_readv_writev(void**) { engine_vectored<Engine>(); }
static void test_bounded_queue_beyond_depth(void**) { engine_bounded_queue<Engine>(); }
static void test_cancel_queued_requests(void**) { engine_cancel_queued<Engine>(); }
static void test_submission_error_is_folded(void**) { engine_error_folded<Engine>(); }
static void test_destroy_with_requests_in_flight(void**) { engine_destroy_in_flight<Engine>(); }

static void test_usable_through_ioengine(void**)
{
    asyncdev::Loop loop;
    Engine io(loop);
    asyncdev::UniqueFd f = make_tmpfile();
    assert_int_equal(write_via_interface(loop, io, f.get()), 21);
}

static void test_pipe_read_completes_when_other_thread_writes(void**)
{
    asyncdev::Loop loop;
    Engine io(loop);
    Pair p = make_pipe();
    std::vector<std::byte> buf(16);
    ssize_t res = 0;
    io.read(p.a.get(), buf, 0, [&](ssize_t r) { res = r; });
    io.submit();
    loop.run_once(20ms);
    assert_int_equal(res, 0); // still waiting
    assert_int_equal(io.in_flight(), 1);
    std::thread t([&] { (void)!::write(p.b.get(), "late", 4); });
    assert_true(run_until(loop, [&] { return res != 0; }));
    t.join();
    assert_int_equal(res, 4);
    assert_memory_equal(buf.data(), "late", 4);
}

static void test_socket_read_completes(void**)
{
    asyncdev::Loop loop;
    Engine io(loop);
    Pair s = make_socketpair();
    std::vector<std::byte> buf(16);
    ssize_t res = 0;
    io.read(s.a.get(), buf, 0, [&](ssize_t r) { res = r; });
    io.submit();
    loop.run_once(10ms);
    assert_int_equal(res, 0);
    assert_int_equal(::send(s.b.get(), "sock", 4, 0), 4);
    assert_true(run_until(loop, [&] { return res != 0; }));
    assert_int_equal(res, 4);
}

static void test_cancel_pending_pipe_read(void**)
{
    asyncdev::Loop loop;
    Engine io(loop);
    Pair p = make_pipe();
    std::vector<std::byte> buf(16);
    ssize_t res = 0;
    int calls = 0;
    const auto id = io.read(p.a.get(), buf, 0, [&](ssize_t r) {
        res = r;
        ++calls;
    });
    io.submit();
    loop.run_once(10ms);
    assert_true(io.cancel(id));
    assert_true(run_until(loop, [&] { return calls == 1; }));
    assert_int_equal(res, -ECANCELED);
    // Data written afterwards is not consumed by the cancelled read.
    assert_int_equal(::write(p.b.get(), "z", 1), 1);
    char c = 0;
    assert_int_equal(::read(p.a.get(), &c, 1), 1);
    assert_int_equal(c, 'z');
}

static void test_destroy_with_pending_pipe_reads_is_prompt(void**)
{
    asyncdev::Loop loop;
    Pair p = make_pipe();
    std::vector<std::vector<std::byte>> bufs(8, std::vector<std::byte>(16));
    int calls = 0;
    const auto start = Clock::now();
    {
        Engine io(loop, 4);
        for (auto& b : bufs)
            io.read(p.a.get(), b, 0, [&](ssize_t) { ++calls; });
        io.submit();
        loop.run_once(10ms);
        assert_int_equal(io.in_flight(), 4);
        assert_int_equal(io.queued(), 4);
    } // cancels the four in the kernel, drops the four queued
    assert_true(Clock::now() - start < 2s);
    assert_int_equal(calls, 0);
}

static void test_abandon_pending_pipe_read(void**)
{
    asyncdev::Loop loop;
    Engine io(loop);
    Pair p = make_pipe();
    auto buf = std::make_unique<std::byte[]>(16);
    int calls = 0;
    const auto id = io.read(p.a.get(), {buf.get(), 16}, 0, [&](ssize_t) { ++calls; });
    io.submit();
    loop.run_once(10ms);
    io.abandon(id);
    assert_int_equal(io.in_flight(), 0);
    buf.reset(); // the kernel let go of it
    (void)!::write(p.b.get(), "after", 5);
    loop.run_once(20ms);
    assert_int_equal(calls, 0);
}

int main()
{
    test::filter_from_env();
    const CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_read_write),
        cmocka_unit_test(test_vectored_readv_writev),
        cmocka_unit_test(test_bounded_queue_beyond_depth),
        cmocka_unit_test(test_cancel_queued_requests),
        cmocka_unit_test(test_submission_error_is_folded),
        cmocka_unit_test(test_destroy_with_requests_in_flight),
        cmocka_unit_test(test_usable_through_ioengine),
        cmocka_unit_test(test_pipe_read_completes_when_other_thread_writes),
        cmocka_unit_test(test_socket_read_completes),
        cmocka_unit_test(test_cancel_pending_pipe_read),
        cmocka_unit_test(test_destroy_with_pending_pipe_reads_is_prompt),
        cmocka_unit_test(test_abandon_pending_pipe_read),
    };
    return cmocka_run_group_tests_name("uring", tests, nullptr, nullptr);
}
