// SignalNotifier on /dev/asyncdev: POLL_IN via the driver's fasync.
#include "guest_lib.h"

#include <poll.h>

using namespace guest;

static void test_fifo_pollin_signal(void**)
{
    asyncdev::Loop loop;
    asyncdev::SignalNotifier n(loop);
    asyncdev::Device fifo = open_node(asyncdev::fifo_path, O_RDWR | O_NONBLOCK);
    const std::uint64_t sent_before = fifo.stats().signals_sent;
    short got = 0;
    std::vector<std::byte> in;
    n.add(fifo.fd(), POLLIN, [&](short revents) {
        got |= revents;
        std::byte buf[256];
        ssize_t r;
        while ((r = ::read(fifo.fd(), buf, sizeof buf)) > 0)
            in.insert(in.end(), buf, buf + r);
    });
    loop.run_once(20ms);
    assert_int_equal(got, 0);
    const auto data = pattern(100, 6);
    std::thread t = write_later(fifo.fd(), data, 20ms);
    assert_true(run_until(loop, [&] { return in.size() == data.size(); }));
    t.join();
    assert_true(got & POLLIN);
    assert_true(in == data);
    assert_true(fifo.stats().signals_sent > sent_before);
}

int main()
{
    const CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_fifo_pollin_signal, reset_nodes),
    };
    return cmocka_run_group_tests_name("guest_lib_signal", tests, nullptr, nullptr);
}
