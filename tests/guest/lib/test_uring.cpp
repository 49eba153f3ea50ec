// Uring on the real nodes: /dev/asyncmem round trip and bounds, FIFO reads
// completing on write, cancel.
#include "guest_lib.h"

using namespace guest;

static ssize_t one(asyncdev::Loop& loop, asyncdev::IoEngine& io, bool write, int fd,
                   std::span<std::byte> buf, std::uint64_t off)
{
    ssize_t res = 1 << 30;
    auto cb = [&](ssize_t r) { res = r; };
    if (write)
        io.write(fd, buf, off, cb);
    else
        io.read(fd, buf, off, cb);
    io.submit();
    if (!run_until(loop, [&] { return res != 1 << 30; }))
        fail_msg("request did not complete");
    return res;
}

static void test_asyncmem_round_trip(void**)
{
    asyncdev::Loop loop;
    asyncdev::Uring io(loop);
    asyncdev::Device mem = open_node(asyncdev::mem_path);
    auto out = pattern(65536, 3);
    std::vector<std::byte> in(65536);
    assert_int_equal(one(loop, io, true, mem.fd(), out, 1 << 20), 65536);
    assert_int_equal(one(loop, io, false, mem.fd(), in, 1 << 20), 65536);
    assert_true(in == out);
}

static void test_asyncmem_bounds(void**)
{
    asyncdev::Loop loop;
    asyncdev::Uring io(loop);
    asyncdev::Device mem = open_node(asyncdev::mem_path);
    const std::uint64_t size = mem.info().capacity;
    assert_true(mem.info().node == asyncdev::NodeKind::mem);
    std::vector<std::byte> buf(512);
    assert_int_equal(one(loop, io, false, mem.fd(), buf, size), 0);        // EOF
    assert_int_equal(one(loop, io, true, mem.fd(), buf, size), -ENOSPC);   // full
}

static void test_fifo_read_completes_on_write(void**)
{
    asyncdev::Loop loop;
    asyncdev::Uring io(loop);
    asyncdev::Device fifo = open_node(asyncdev::fifo_path);
    std::vector<std::byte> buf(32);
    ssize_t res = 0;
    io.read(fifo.fd(), buf, 0, [&](ssize_t r) { res = r; });
    io.submit();
    loop.run_once(30ms);
    assert_int_equal(res, 0);
    const auto data = pattern(32, 4);
    std::thread t = write_later(fifo.fd(), data, 20ms);
    assert_true(run_until(loop, [&] { return res != 0; }));
    t.join();
    assert_int_equal(res, 32);
    assert_true(buf == data);
}

static void test_cancel_fifo_read(void**)
{
    asyncdev::Loop loop;
    asyncdev::Uring io(loop);
    asyncdev::Device fifo = open_node(asyncdev::fifo_path);
    std::vector<std::byte> buf(32);
    ssize_t res = 0;
    const auto id = io.read(fifo.fd(), buf, 0, [&](ssize_t r) { res = r; });
    io.submit();
    loop.run_once(20ms);
    assert_true(io.cancel(id));
    assert_true(run_until(loop, [&] { return res != 0; }));
    assert_int_equal(res, -ECANCELED);
}

static void test_destroy_with_pending_fifo_reads_is_prompt(void**)
{
    asyncdev::Loop loop;
    asyncdev::Device fifo = open_node(asyncdev::fifo_path);
    std::vector<std::vector<std::byte>> bufs(4, std::vector<std::byte>(16));
    int calls = 0;
    const auto start = Clock::now();
    {
        asyncdev::Uring io(loop);
        for (auto& b : bufs)
            io.read(fifo.fd(), b, 0, [&](ssize_t) { ++calls; });
        io.submit();
        loop.run_once(20ms);
    }
    assert_true(Clock::now() - start < 2s);
    assert_int_equal(calls, 0);
}

int main()
{
    const CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_asyncmem_round_trip, reset_nodes),
        cmocka_unit_test_setup(test_asyncmem_bounds, reset_nodes),
        cmocka_unit_test_setup(test_fifo_read_completes_on_write, reset_nodes),
        cmocka_unit_test_setup(test_cancel_fifo_read, reset_nodes),
        cmocka_unit_test_setup(test_destroy_with_pending_fifo_reads_is_prompt, reset_nodes),
    };
    return cmocka_run_group_tests_name("guest_lib_uring", tests, nullptr, nullptr);
}
