// Coroutines on the FIFO: a read resumed by a write, and a Task destroyed
// while its libaio read is queued in the driver.
#include "guest_lib.h"

using namespace guest;
using asyncdev::Task;

static void test_coroutine_read_resumes_on_write(void**)
{
    asyncdev::Loop loop;
    asyncdev::Uring io(loop);
    asyncdev::Device fifo = open_node(asyncdev::fifo_path);
    const auto data = pattern(48, 7);
    std::thread t = write_later(fifo.fd(), data, 30ms);
    auto body = [&]() -> Task<bool> {
        std::vector<std::byte> buf(48);
        const ssize_t r = co_await asyncdev::async_read(io, fifo.fd(), buf);
        co_return r == 48 && buf == data;
    };
    assert_true(asyncdev::sync_wait(loop, body()));
    t.join();
}

static void test_task_destroyed_with_queued_aio_read(void**)
{
    asyncdev::Loop loop;
    asyncdev::AioContext aio(loop);
    asyncdev::Device fifo = open_node(asyncdev::fifo_path);
    bool resumed = false;
    auto body = [&]() -> Task<void> {
        std::vector<std::byte> buf(16);
        co_await asyncdev::async_read(aio, fifo.fd(), buf);
        resumed = true;
    };
    const auto start = Clock::now();
    {
        Task<void> t = body();
        t.start();
        loop.run_once(20ms);
        assert_int_equal(aio.in_flight(), 1);
    } // io_cancel + reap before the frame (and buffer) go
    assert_true(Clock::now() - start < 2s);
    assert_int_equal(aio.in_flight(), 0);
    assert_false(resumed);
}

int main()
{
    const CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_coroutine_read_resumes_on_write, reset_nodes),
        cmocka_unit_test_setup(test_task_destroyed_with_queued_aio_read, reset_nodes),
    };
    return cmocka_run_group_tests_name("guest_lib_coro", tests, nullptr, nullptr);
}
