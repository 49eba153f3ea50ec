// Uring on the real nodes: /dev/asyncmem round trip and bounds, FIFO reads
// completing on write, cancel; the same through a registered file and
// buffer.
#include "guest_lib.h"

#include <array>

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

// Registered file + registered buffer (IORING_OP_WRITE_FIXED/READ_FIXED
// with IOSQE_FIXED_FILE): the driver gets a bvec iterator instead of an
// iovec one. The Device's own fd is closed first: the ring's reference
// keeps the file open.
static void test_asyncmem_fixed_file_fixed_buffer(void**)
{
    using F = asyncdev::Uring::FixedFile;
    using B = asyncdev::Uring::FixedBuffer;
    asyncdev::Loop loop;
    asyncdev::Uring io(loop);
    std::vector<std::byte> mem(2 * 65536 + 512);
    const iovec whole{mem.data(), mem.size()};
    io.register_buffers(std::span(&whole, 1));
    {
        asyncdev::Device dev = open_node(asyncdev::mem_path);
        io.register_files(std::array{dev.fd()});
    }
    const auto out = pattern(65536, 11);
    std::memcpy(mem.data() + 512, out.data(), out.size()); // not page aligned
    const std::span<std::byte> src(mem.data() + 512, 65536), dst(mem.data() + 512 + 65536, 65536);
    ssize_t w = 1 << 30, r = 1 << 30;
    io.write(F{0}, B{0}, src, 3 << 20, [&](ssize_t res) { w = res; });
    io.submit();
    assert_true(run_until(loop, [&] { return w != 1 << 30; }));
    assert_int_equal(w, 65536);
    io.read(F{0}, B{0}, dst, 3 << 20, [&](ssize_t res) { r = res; });
    io.submit();
    assert_true(run_until(loop, [&] { return r != 1 << 30; }));
    assert_int_equal(r, 65536);
    assert_memory_equal(dst.data(), out.data(), out.size());
    // What the plain fd sees agrees.
    asyncdev::Device dev = open_node(asyncdev::mem_path);
    std::vector<std::byte> check(65536);
    assert_int_equal(::pread(dev.fd(), check.data(), check.size(), 3 << 20), 65536);
    assert_true(check == out);
}

// A fixed-file fixed-buffer read waiting on the empty FIFO completes when
// another thread writes.
static void test_fifo_fixed_read_completes_on_write(void**)
{
    using F = asyncdev::Uring::FixedFile;
    using B = asyncdev::Uring::FixedBuffer;
    asyncdev::Loop loop;
    asyncdev::Uring io(loop);
    asyncdev::Device fifo = open_node(asyncdev::fifo_path);
    std::vector<std::byte> mem(64);
    const iovec whole{mem.data(), mem.size()};
    io.register_buffers(std::span(&whole, 1));
    io.register_files(std::array{fifo.fd()});
    ssize_t res = 0;
    io.read(F{0}, B{0}, std::span(mem).subspan(16, 32), 0, [&](ssize_t r) { res = r; });
    io.submit();
    loop.run_once(30ms);
    assert_int_equal(res, 0);
    const auto data = pattern(32, 5);
    std::thread t = write_later(fifo.fd(), data, 20ms);
    assert_true(run_until(loop, [&] { return res != 0; }));
    t.join();
    assert_int_equal(res, 32);
    assert_memory_equal(mem.data() + 16, data.data(), 32);
}

int main()
{
    const CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_asyncmem_round_trip, reset_nodes),
        cmocka_unit_test_setup(test_asyncmem_bounds, reset_nodes),
        cmocka_unit_test_setup(test_fifo_read_completes_on_write, reset_nodes),
        cmocka_unit_test_setup(test_cancel_fifo_read, reset_nodes),
        cmocka_unit_test_setup(test_destroy_with_pending_fifo_reads_is_prompt, reset_nodes),
        cmocka_unit_test_setup(test_asyncmem_fixed_file_fixed_buffer, reset_nodes),
        cmocka_unit_test_setup(test_fifo_fixed_read_completes_on_write, reset_nodes),
    };
    return cmocka_run_group_tests_name("guest_lib_uring", tests, nullptr, nullptr);
}
