// PosixAio on both nodes, both notification modes.
#include "guest_lib.h"

using namespace guest;
using Notify = asyncdev::PosixAio::Notify;

static void round_trip(const char* path, Notify mode)
{
    asyncdev::Loop loop;
    asyncdev::PosixAio aio(loop, mode);
    asyncdev::Device dev = open_node(path);
    const auto out = pattern(4096, 5);
    std::vector<std::byte> in(4096);
    ssize_t w = 0, r = 0;
    aio.write(dev.fd(), out, 0, [&](ssize_t x) { w = x; });
    aio.submit();
    assert_true(run_until(loop, [&] { return w != 0; }));
    assert_int_equal(w, 4096);
    aio.read(dev.fd(), in, 0, [&](ssize_t x) { r = x; });
    aio.submit();
    assert_true(run_until(loop, [&] { return r != 0; }));
    assert_int_equal(r, 4096);
    assert_true(in == out);
}

static void test_asyncmem_signal(void**) { round_trip(asyncdev::mem_path, Notify::signal); }
static void test_asyncmem_thread(void**) { round_trip(asyncdev::mem_path, Notify::thread); }
static void test_fifo_signal(void**) { round_trip(asyncdev::fifo_path, Notify::signal); }
static void test_fifo_thread(void**) { round_trip(asyncdev::fifo_path, Notify::thread); }

static void test_asyncmem_batch_and_wait(void**)
{
    asyncdev::Loop loop;
    asyncdev::PosixAio aio(loop);
    asyncdev::Device mem = open_node(asyncdev::mem_path);
    std::vector<std::vector<std::byte>> bufs;
    for (unsigned i = 0; i < 8; ++i)
        bufs.push_back(pattern(1024, i));
    int ok = 0;
    asyncdev::RequestId last = 0;
    for (unsigned i = 0; i < 8; ++i)
        last = aio.write(mem.fd(), bufs[i], i * 1024, [&](ssize_t r) { ok += r == 1024; });
    aio.submit(); // lio_listio
    assert_true(aio.wait(last, std::chrono::seconds(5)));
    assert_true(run_until(loop, [&] { return ok == 8; }));
}

int main()
{
    const CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_asyncmem_signal, reset_nodes),
        cmocka_unit_test_setup(test_asyncmem_thread, reset_nodes),
        cmocka_unit_test_setup(test_fifo_signal, reset_nodes),
        cmocka_unit_test_setup(test_fifo_thread, reset_nodes),
        cmocka_unit_test_setup(test_asyncmem_batch_and_wait, reset_nodes),
    };
    return cmocka_run_group_tests_name("guest_lib_posix_aio", tests, nullptr, nullptr);
}
