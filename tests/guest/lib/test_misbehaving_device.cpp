// libasyncdev against a misbehaving device: the Device calls for the
// misbehaviour knobs, and both IoEngine backends (AioContext, Uring)
// reporting short transfers, bad ranges (EIO) and stalls (cancel, prompt
// destruction) exactly as the device produced them.
#include "guest_lib.h"

#include <memory>
#include <stdexcept>

using namespace guest;

static int reset_all(void** state)
{
    reset_nodes(state);
    for (const char* path : {asyncdev::fifo_path, asyncdev::mem_path}) {
        asyncdev::Device d = open_node(path);
        d.set_stall({});
        d.set_short_transfer({});
        d.set_seed(0);
        if (path == asyncdev::mem_path) {
            d.clear_bad_ranges();
            d.set_bad_writes(asyncdev::BadWrites::pass);
        }
    }
    return 0;
}

static std::unique_ptr<asyncdev::IoEngine> make_engine(asyncdev::Loop& loop, int which)
{
    if (which == 0)
        return std::make_unique<asyncdev::AioContext>(loop);
    return std::make_unique<asyncdev::Uring>(loop);
}

static void test_device_calls_round_trip(void**)
{
    asyncdev::Device mem = open_node(asyncdev::mem_path);
    asyncdev::Latency l{asyncdev::LatencyDist::exponential, 100us, 2ms, 1000, 10};
    mem.set_latency(asyncdev::Direction::write, l);
    const asyncdev::Latency g = mem.latency(asyncdev::Direction::write);
    assert_true(g.dist == l.dist && g.base == l.base && g.spread == l.spread);
    assert_int_equal(g.tail_ppm, 1000);
    assert_int_equal(g.tail_mult, 10);
    assert_true(mem.latency(asyncdev::Direction::read).dist == asyncdev::LatencyDist::fixed);
    mem.set_seed(77);
    assert_int_equal(mem.seed(), 77);
    mem.set_stall({{asyncdev::Direction::read, 5, 0}});
    assert_true(mem.stall().when.dirs == asyncdev::Direction::read);
    assert_int_equal(mem.stall().when.every, 5);
    mem.set_short_transfer({{asyncdev::Direction::both, 0, 1000}, 0, 500});
    assert_int_equal(mem.short_transfer().permille, 500);
    mem.add_bad_range({100, 199});
    mem.add_bad_range({300, 300});
    mem.set_bad_writes(asyncdev::BadWrites::fail);
    const asyncdev::BadBlocks b = mem.bad_blocks();
    assert_int_equal(b.ranges.size(), 2);
    assert_int_equal(b.ranges[1].start, 300);
    assert_true(b.writes == asyncdev::BadWrites::fail);

    // Errors: EINVAL from the driver, preconditions from the library.
    std::error_code ec;
    mem.set_latency(asyncdev::Direction::read, {asyncdev::LatencyDist::fixed, 0ns, 1ns, 0, 1}, ec);
    assert_int_equal(ec.value(), EINVAL);
    try {
        (void)mem.latency(asyncdev::Direction::both);
        fail_msg("no exception");
    } catch (const std::invalid_argument&) {
    }
    mem.set_latency(asyncdev::Direction::read, {asyncdev::LatencyDist::fixed, -1ns, 0ns, 0, 1}, ec);
    assert_true(ec == std::errc::invalid_argument);
    asyncdev::Device fifo = open_node(asyncdev::fifo_path);
    (void)fifo.bad_blocks(ec);
    assert_int_equal(ec.value(), ENOTTY);
}

static void short_and_bad(int which)
{
    asyncdev::Loop loop;
    auto eng = make_engine(loop, which);
    asyncdev::Device mem = open_node(asyncdev::mem_path);
    std::vector<std::byte> buf(4096);
    ssize_t res = 0;

    mem.set_short_transfer({{asyncdev::Direction::read, 1, 0}, 0, 250});
    eng->read(mem.fd(), buf, 0, [&](ssize_t r) { res = r; });
    eng->submit();
    assert_true(run_until(loop, [&] { return res != 0; }));
    assert_int_equal(res, 1024);

    mem.set_short_transfer({});
    mem.add_bad_range({8192, 8192});
    res = 0;
    eng->read(mem.fd(), buf, 6144, [&](ssize_t r) { res = r; });
    eng->submit();
    assert_true(run_until(loop, [&] { return res != 0; }));
    assert_int_equal(res, -EIO);
}

static void test_aio_short_and_bad(void**) { short_and_bad(0); }
static void test_uring_short_and_bad(void**) { short_and_bad(1); }

// A stalled read: nothing for 200 ms (a program's timeout fires), then
// cancel() ends it; a second one is left to the backend's destructor.
static void stall_cancel(int which)
{
    asyncdev::Loop loop;
    asyncdev::Device mem = open_node(asyncdev::mem_path);
    std::vector<std::byte> a(64), b(64);
    ssize_t res = 0;
    int other = 0;

    mem.set_stall({{asyncdev::Direction::read, 1, 0}});
    const auto start = Clock::now();
    {
        auto eng = make_engine(loop, which);
        const auto id = eng->read(mem.fd(), a, 0, [&](ssize_t r) { res = r; });
        eng->read(mem.fd(), b, 0, [&](ssize_t) { ++other; });
        eng->submit();
        assert_false(run_until(loop, [&] { return res != 0; }, 200ms));
        assert_true(eng->cancel(id));
        assert_true(run_until(loop, [&] { return res != 0; }));
        print_message("backend %d: stalled read cancelled with %zd\n", which, res);
        assert_true(res == -ECANCELED || res == -EINTR);
        assert_int_equal(eng->in_flight(), 1);
    }
    assert_true(Clock::now() - start < 3s);
    assert_int_equal(other, 0);
    for (int i = 0; i < 100 && mem.stats().in_flight; i++)
        std::this_thread::sleep_for(20ms);
    assert_int_equal(mem.stats().in_flight, 0);
}

static void test_aio_stall_cancel(void**) { stall_cancel(0); }
static void test_uring_stall_cancel(void**) { stall_cancel(1); }

int main()
{
    const CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_device_calls_round_trip, reset_all, reset_all),
        cmocka_unit_test_setup_teardown(test_aio_short_and_bad, reset_all, reset_all),
        cmocka_unit_test_setup_teardown(test_uring_short_and_bad, reset_all, reset_all),
        cmocka_unit_test_setup_teardown(test_aio_stall_cancel, reset_all, reset_all),
        cmocka_unit_test_setup_teardown(test_uring_stall_cancel, reset_all, reset_all),
    };
    return cmocka_run_group_tests(tests, nullptr, nullptr);
}
