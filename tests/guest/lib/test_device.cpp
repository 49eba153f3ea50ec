// Device: every ioctl wrapper against the real nodes.
#include "guest_lib.h"

using namespace guest;

static void test_info_of_both_nodes(void**)
{
    const asyncdev::Info fi = open_node(asyncdev::fifo_path).info();
    const asyncdev::Info mi = open_node(asyncdev::mem_path).info();
    assert_int_equal(fi.abi_version, ASYNCDEV_ABI_VERSION);
    assert_true(fi.node == asyncdev::NodeKind::fifo);
    assert_true(mi.node == asyncdev::NodeKind::mem);
    assert_true(fi.capacity > 0);
    assert_int_equal(mi.capacity, 16u << 20);
    assert_int_equal(fi.record_size, sizeof(asyncdev_record));
}

static void test_config_round_trip_and_einval(void**)
{
    asyncdev::Device d = open_node(asyncdev::fifo_path);
    asyncdev::Config c{std::chrono::microseconds(200), std::chrono::microseconds(50), 3, 0};
    d.set_config(c);
    const asyncdev::Config g = d.config();
    assert_true(g.latency == c.latency);
    assert_true(g.jitter == c.jitter);
    assert_int_equal(g.channels, 3);
    c.channels = 0;
    try {
        d.set_config(c);
        fail_msg("no exception");
    } catch (const std::system_error& e) {
        assert_int_equal(e.code().value(), EINVAL);
        assert_string_equal(e.what(), "ioctl(ASYNCDEV_IOC_SET_CONFIG): Invalid argument");
    }
    std::error_code ec;
    d.set_config(c, ec);
    assert_int_equal(ec.value(), EINVAL);
}

static void test_stats_flush_and_reset(void**)
{
    asyncdev::Device d = open_node(asyncdev::fifo_path);
    d.reset_stats();
    assert_int_equal(::write(d.fd(), "0123456789", 10), 10);
    asyncdev::Stats s = d.stats();
    assert_int_equal(s.bytes_written, 10);
    assert_int_equal(s.fifo_level, 10);
    d.flush();
    assert_int_equal(d.stats().fifo_level, 0);
    d.reset_stats();
    assert_int_equal(d.stats().bytes_written, 0);
    std::error_code ec;
    open_node(asyncdev::mem_path).flush(ec);
    assert_int_equal(ec.value(), ENOTTY);
}

static void test_fault_injection_fails_next_request(void**)
{
    asyncdev::Device mem = open_node(asyncdev::mem_path);
    mem.set_fault({asyncdev::FaultMode::next, EIO, 1});
    const asyncdev::Fault f = mem.fault();
    assert_true(f.mode == asyncdev::FaultMode::next);
    assert_int_equal(f.error, EIO);
    asyncdev::Loop loop;
    asyncdev::Uring io(loop);
    std::vector<std::byte> buf(64);
    std::vector<ssize_t> res;
    for (int i = 0; i < 2; ++i) {
        io.read(mem.fd(), buf, 0, [&](ssize_t r) { res.push_back(r); });
        io.submit();
        assert_true(run_until(loop, [&] { return res.size() == static_cast<std::size_t>(i + 1); }));
    }
    assert_int_equal(res[0], -EIO);
    assert_int_equal(res[1], 64);
    assert_true(mem.stats().faults_injected >= 1);
}

int main()
{
    const CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_info_of_both_nodes, reset_nodes),
        cmocka_unit_test_setup(test_config_round_trip_and_einval, reset_nodes),
        cmocka_unit_test_setup(test_stats_flush_and_reset, reset_nodes),
        cmocka_unit_test_setup(test_fault_injection_fails_next_request, reset_nodes),
    };
    return cmocka_run_group_tests_name("guest_lib_device", tests, reset_nodes, reset_nodes);
}
