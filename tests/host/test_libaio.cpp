// AioContext (libaio): io_submit batches, eventfd completions, bounded
// queue, cancel, destruction in flight.
#include "engine_tests.h"

#include <asyncdev/aio_context.h>

using namespace test;
using Engine = asyncdev::AioContext;

static void test_round_trip_read_write(void**) { engine_round_trip_read_write<Engine>(); }
static void test_vectored_preadv_pwritev(void**) { engine_vectored<Engine>(); }
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
    assert_int_equal(io.depth(), 128);
}

// O_DIRECT makes io_submit truly asynchronous on most filesystems;
// where /tmp refuses O_DIRECT (tmpfs) the test is skipped.
static void test_o_direct_truly_async(void**)
{
    int fd = ::open("/var/tmp", O_TMPFILE | O_RDWR | O_DIRECT | O_CLOEXEC, 0600);
    if (fd < 0) {
        skip();
        return;
    }
    asyncdev::UniqueFd f(fd);
    void* mem = nullptr;
    assert_int_equal(::posix_memalign(&mem, 4096, 1 << 16), 0);
    std::unique_ptr<void, decltype(&std::free)> guard(mem, &std::free);
    std::memset(mem, 0x5a, 1 << 16);
    asyncdev::Loop loop;
    Engine io(loop);
    ssize_t res = 0;
    io.write(fd, {static_cast<std::byte*>(mem), 1 << 16}, 0, [&](ssize_t r) { res = r; });
    io.submit();
    assert_true(run_until(loop, [&] { return res != 0; }));
    if (res == -EINVAL) { // filesystem without O_DIRECT support
        skip();
        return;
    }
    assert_int_equal(res, 1 << 16);
}

static void test_abandon_in_kernel_request(void**)
{
    asyncdev::Loop loop;
    Engine io(loop, 4);
    asyncdev::UniqueFd f = make_tmpfile();
    const auto out = pattern(1 << 16, 4);
    int calls = 0;
    const auto id = io.write(f.get(), out, 0, [&](ssize_t) { ++calls; });
    io.submit();
    io.abandon(id);
    assert_int_equal(io.in_flight(), 0);
    loop.run_once(10ms);
    assert_int_equal(calls, 0);
}

int main()
{
    test::filter_from_env();
    const CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_read_write),
        cmocka_unit_test(test_vectored_preadv_pwritev),
        cmocka_unit_test(test_bounded_queue_beyond_depth),
        cmocka_unit_test(test_cancel_queued_requests),
        cmocka_unit_test(test_submission_error_is_folded),
        cmocka_unit_test(test_destroy_with_requests_in_flight),
        cmocka_unit_test(test_usable_through_ioengine),
        cmocka_unit_test(test_o_direct_truly_async),
        cmocka_unit_test(test_abandon_in_kernel_request),
    };
    return cmocka_run_group_tests_name("libaio", tests, nullptr, nullptr);
}
