// SignalNotifier under real-time signal queue overflow: with
// RLIMIT_SIGPENDING lowered, the kernel replaces the RT signals it cannot
// queue by one plain SIGIO; the notifier must then rescan and lose nothing.
#include "test_util.h"

#include <csignal>
#include <optional>
#include <stdexcept>

#include <poll.h>
#include <sys/resource.h>
#include <sys/syscall.h>

using namespace test;

namespace {

constexpr int pipes = 64;
constexpr rlim_t limit = 4;

struct LowerSigpending {
    rlimit saved{};
    LowerSigpending()
    {
        ::getrlimit(RLIMIT_SIGPENDING, &saved);
        rlimit low = saved;
        low.rlim_cur = limit;
        if (::setrlimit(RLIMIT_SIGPENDING, &low) < 0)
            fail_msg("setrlimit: %s", std::strerror(errno));
    }
    ~LowerSigpending() { ::setrlimit(RLIMIT_SIGPENDING, &saved); }
};

} // namespace

static void test_no_readiness_lost_when_rt_queue_overflows(void**)
{
    asyncdev::Loop loop;
    asyncdev::SignalNotifier n(loop);
    std::vector<Pair> ps;
    std::vector<int> received(pipes, 0);
    for (int i = 0; i < pipes; ++i) {
        ps.push_back(make_pipe(O_NONBLOCK | O_CLOEXEC));
        const int fd = ps.back().a.get();
        n.add(fd, POLLIN, [fd, i, &received](short) {
            char buf[16];
            ssize_t r;
            while ((r = ::read(fd, buf, sizeof buf)) > 0)
                received[i] += static_cast<int>(r);
        });
    }
    loop.run_once(10ms); // the initial checks: nothing ready yet

    {
        LowerSigpending low;
        // No loop iteration in between: every signal stays pending, so
        // all but `limit` of the RT signals cannot be queued.
        for (int i = 0; i < pipes; ++i)
            assert_int_equal(::write(ps[i].b.get(), "x", 1), 1);
        int total = 0;
        assert_true(run_until(loop, [&] {
            total = 0;
            for (int r : received)
                total += r > 0;
            return total == pipes;
        }));
        assert_int_equal(total, pipes);
    }
    for (int r : received)
        assert_int_equal(r, 1);
    // The path under test was taken: at least one SIGIO rescan.
    assert_true(n.overflows() >= 1);

    // And after the overflow, plain RT delivery still works.
    const std::uint64_t rescans = n.overflows();
    assert_int_equal(::write(ps[7].b.get(), "yz", 2), 2);
    assert_true(run_until(loop, [&] { return received[7] == 3; }));
    assert_int_equal(n.overflows(), rescans);
}

namespace {
// A plain SIGIO to the loop thread: the notifier cannot tell it from a
// queue overflow and rescans every fd. Pending together with the RT
// signals, it is read first from the signalfd (lower number).
void raise_sigio(const asyncdev::Loop& loop)
{
    assert_int_equal(::syscall(SYS_tgkill, ::getpid(), loop.thread_id(), SIGIO), 0);
}
} // namespace

// Issue 13, defect 3: the first callback of a rescan destroys the notifier;
// the rescan must not touch it (nor call the other fds) afterwards.
static void test_notifier_destroyed_by_callback_during_rescan(void**)
{
    asyncdev::Loop loop;
    std::optional<asyncdev::SignalNotifier> n;
    n.emplace(loop);
    std::vector<Pair> ps;
    int calls = 0;
    for (int i = 0; i < 3; ++i) {
        ps.push_back(make_pipe(O_NONBLOCK | O_CLOEXEC));
        n->add(ps.back().a.get(), POLLIN, [&](short) {
            ++calls;
            n.reset();
        });
    }
    loop.run_once(0ms); // the initial checks: nothing ready
    for (auto& p : ps)
        assert_int_equal(::write(p.b.get(), "x", 1), 1);
    raise_sigio(loop);
    loop.run_once(0ms);
    loop.run_once(0ms);
    assert_int_equal(calls, 1);
    assert_false(n.has_value());
    for (auto& p : ps)
        assert_int_equal(::fcntl(p.a.get(), F_GETFL) & O_ASYNC, 0);
}

// Issue 13, defect 2 on the rescan path: a throwing callback does not lose
// the readiness of the fds the rescan had not yet reported.
static void test_throwing_callback_during_rescan_keeps_the_rest(void**)
{
    asyncdev::Loop loop;
    asyncdev::SignalNotifier n(loop);
    std::vector<Pair> ps;
    int calls[3] = {0, 0, 0};
    bool thrown = false;
    for (int i = 0; i < 3; ++i) {
        ps.push_back(make_pipe(O_NONBLOCK | O_CLOEXEC));
        const int fd = ps.back().a.get();
        n.add(fd, POLLIN, [&, fd, i](short) {
            char buf[8];
            while (::read(fd, buf, sizeof buf) > 0) {
            }
            ++calls[i];
            if (!std::exchange(thrown, true))
                throw std::runtime_error("first");
        });
    }
    loop.run_once(0ms);
    for (auto& p : ps)
        assert_int_equal(::write(p.b.get(), "x", 1), 1);
    raise_sigio(loop);
    bool caught = false;
    try {
        loop.run_once(0ms);
    } catch (const std::runtime_error&) {
        caught = true;
    }
    assert_true(caught);
    loop.run_once(0ms);
    loop.run_once(0ms);
    for (int c : calls)
        assert_true(c >= 1); // a later RT signal may add a spurious call
    assert_true(n.overflows() >= 1);
}

int main()
{
    test::filter_from_env();
    const CMUnitTest tests[] = {
        cmocka_unit_test(test_no_readiness_lost_when_rt_queue_overflows),
        cmocka_unit_test(test_notifier_destroyed_by_callback_during_rescan),
        cmocka_unit_test(test_throwing_callback_during_rescan_keeps_the_rest),
    };
    return cmocka_run_group_tests_name("signal_overflow", tests, nullptr, nullptr);
}
