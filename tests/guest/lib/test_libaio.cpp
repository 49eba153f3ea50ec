// AioContext on the real nodes: queued FIFO reads, cancel, prompt drain.
#include "guest_lib.h"

using namespace guest;

static void test_fifo_read_queued_until_other_thread_writes(void**)
{
    asyncdev::Loop loop;
    asyncdev::AioContext aio(loop);
    asyncdev::Device fifo = open_node(asyncdev::fifo_path);
    std::vector<std::byte> buf(64);
    ssize_t res = 0;
    aio.read(fifo.fd(), buf, 0, [&](ssize_t r) { res = r; });
    aio.submit();
    loop.run_once(30ms);
    assert_int_equal(res, 0); // queued (-EIOCBQUEUED): no data yet
    assert_int_equal(aio.in_flight(), 1);
    const auto data = pattern(64, 1);
    std::thread t = write_later(fifo.fd(), data, 20ms);
    assert_true(run_until(loop, [&] { return res != 0; }));
    t.join();
    assert_int_equal(res, 64);
    assert_true(buf == data);
}

static void test_cancel_queued_fifo_read_is_ecanceled(void**)
{
    asyncdev::Loop loop;
    asyncdev::AioContext aio(loop);
    asyncdev::Device fifo = open_node(asyncdev::fifo_path);
    std::vector<std::byte> buf(16);
    ssize_t res = 0;
    const auto id = aio.read(fifo.fd(), buf, 0, [&](ssize_t r) { res = r; });
    aio.submit();
    loop.run_once(20ms);
    assert_true(aio.cancel(id));
    assert_true(run_until(loop, [&] { return res != 0; }));
    assert_int_equal(res, -ECANCELED);
    assert_true(fifo.stats().async_cancelled >= 1);
}

static void test_destroy_with_queued_fifo_reads_is_prompt(void**)
{
    asyncdev::Loop loop;
    asyncdev::Device fifo = open_node(asyncdev::fifo_path);
    std::vector<std::vector<std::byte>> bufs(8, std::vector<std::byte>(16));
    int calls = 0;
    const auto start = Clock::now();
    {
        asyncdev::AioContext aio(loop, 4);
        for (auto& b : bufs)
            aio.read(fifo.fd(), b, 0, [&](ssize_t) { ++calls; });
        aio.submit();
        loop.run_once(20ms);
        assert_int_equal(aio.in_flight(), 4);
    }
    assert_true(Clock::now() - start < 2s);
    assert_int_equal(calls, 0);
}

static void test_asyncmem_round_trip(void**)
{
    asyncdev::Loop loop;
    asyncdev::AioContext aio(loop);
    asyncdev::Device mem = open_node(asyncdev::mem_path);
    const auto out = pattern(8192, 2);
    std::vector<std::byte> in(8192);
    ssize_t w = 0, r = 0;
    aio.write(mem.fd(), out, 4096, [&](ssize_t x) { w = x; });
    aio.submit();
    assert_true(run_until(loop, [&] { return w != 0; }));
    assert_int_equal(w, 8192);
    const iovec iov[2] = {{in.data(), 4096}, {in.data() + 4096, 4096}};
    aio.readv(mem.fd(), iov, 4096, [&](ssize_t x) { r = x; });
    aio.submit();
    assert_true(run_until(loop, [&] { return r != 0; }));
    assert_int_equal(r, 8192);
    assert_true(in == out);
}

int main()
{
    const CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_fifo_read_queued_until_other_thread_writes, reset_nodes),
        cmocka_unit_test_setup(test_cancel_queued_fifo_read_is_ecanceled, reset_nodes),
        cmocka_unit_test_setup(test_destroy_with_queued_fifo_reads_is_prompt, reset_nodes),
        cmocka_unit_test_setup(test_asyncmem_round_trip, reset_nodes),
    };
    return cmocka_run_group_tests_name("guest_lib_libaio", tests, nullptr, nullptr);
}
