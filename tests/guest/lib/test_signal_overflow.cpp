// SignalNotifier on /dev/asyncdev when the real-time signal queue overflows:
// 64 descriptors of the FIFO share its fasync list, so one write raises 64
// RT signals; with RLIMIT_SIGPENDING at 4 the kernel falls back to plain
// SIGIO for the rest and the notifier must rescan so that every registered
// descriptor still hears that the FIFO became readable.
#include "guest_lib.h"

#include <poll.h>
#include <sys/resource.h>

using namespace guest;

static void test_every_fd_notified_despite_rt_overflow(void**)
{
    constexpr int fds = 64;
    asyncdev::Loop loop;
    asyncdev::SignalNotifier n(loop);
    std::vector<asyncdev::Device> nodes;
    std::vector<int> heard(fds, 0);
    for (int i = 0; i < fds; ++i) {
        nodes.push_back(open_node(asyncdev::fifo_path, O_RDWR | O_NONBLOCK));
        n.add(nodes.back().fd(), POLLIN, [i, &heard](short revents) {
            if (revents & POLLIN)
                heard[i]++;
        });
    }
    loop.run_once(20ms);

    rlimit saved{};
    ::getrlimit(RLIMIT_SIGPENDING, &saved);
    rlimit low = saved;
    low.rlim_cur = 4;
    assert_int_equal(::setrlimit(RLIMIT_SIGPENDING, &low), 0);
    const std::uint64_t sent_before = nodes[0].stats().signals_sent;
    assert_int_equal(::write(nodes[0].fd(), "overflow", 8), 8);
    const bool all = run_until(loop, [&] {
        for (int h : heard)
            if (!h)
                return false;
        return true;
    });
    ::setrlimit(RLIMIT_SIGPENDING, &saved);
    int count = 0;
    for (int h : heard)
        count += h > 0;
    std::printf("# %d of %d descriptors notified, %llu SIGIO rescans, %llu signals raised\n",
                count, fds, static_cast<unsigned long long>(n.overflows()),
                static_cast<unsigned long long>(nodes[0].stats().signals_sent - sent_before));
    assert_true(all);
    assert_true(n.overflows() >= 1);   // the fallback path was taken
    char buf[16];
    assert_int_equal(::read(nodes[0].fd(), buf, sizeof buf), 8);
}

int main()
{
    const CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_every_fd_notified_despite_rt_overflow, reset_nodes),
    };
    return cmocka_run_group_tests_name("guest_lib_signal_overflow", tests, nullptr, nullptr);
}
