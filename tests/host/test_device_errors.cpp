// Device: the error convention (std::system_error naming the call, and the
// std::error_code overloads) on paths that are not asyncdev nodes.
#include "test_util.h"

using namespace test;

namespace {

template <class F>
std::string what_of(F f, int expect_errno)
{
    try {
        f();
    } catch (const std::system_error& e) {
        assert_int_equal(e.code().value(), expect_errno);
        assert_true(e.code().category() == std::system_category());
        return e.what();
    }
    fail_msg("no exception");
    return {};
}

std::string with_strerror(const char* call, int err)
{
    return std::string(call) + ": " + std::strerror(err);
}

} // namespace

static void test_open_missing_path_names_it(void**)
{
    const std::string w =
        what_of([] { asyncdev::Device d("/nonexistent/asyncdev"); }, ENOENT);
    assert_string_equal(w.c_str(), with_strerror("open(/nonexistent/asyncdev)", ENOENT).c_str());
    std::error_code ec;
    asyncdev::Device d = asyncdev::Device::open("/nonexistent/asyncdev", O_RDWR, ec);
    assert_int_equal(ec.value(), ENOENT);
    assert_false(d.is_open());
}

static void test_every_ioctl_on_regular_file_is_enotty(void**)
{
    asyncdev::Device d(make_tmpfile());
    struct Case {
        const char* name;
        std::function<void()> call;
    } cases[] = {
        {"ioctl(ASYNCDEV_IOC_GET_INFO)", [&] { d.info(); }},
        {"ioctl(ASYNCDEV_IOC_GET_CONFIG)", [&] { d.config(); }},
        {"ioctl(ASYNCDEV_IOC_SET_CONFIG)", [&] { d.set_config({}); }},
        {"ioctl(ASYNCDEV_IOC_GET_STATS)", [&] { d.stats(); }},
        {"ioctl(ASYNCDEV_IOC_RESET_STATS)", [&] { d.reset_stats(); }},
        {"ioctl(ASYNCDEV_IOC_FLUSH)", [&] { d.flush(); }},
        {"ioctl(ASYNCDEV_IOC_GET_FAULT)", [&] { d.fault(); }},
        {"ioctl(ASYNCDEV_IOC_SET_FAULT)", [&] { d.set_fault({}); }},
    };
    for (auto& c : cases)
        assert_string_equal(what_of(c.call, ENOTTY).c_str(), with_strerror(c.name, ENOTTY).c_str());
}

static void test_error_code_overloads_do_not_throw(void**)
{
    Pair p = make_pipe();
    asyncdev::Device d(std::move(p.a));
    std::error_code ec;
    const asyncdev::Info info = d.info(ec);
    assert_int_equal(ec.value(), ENOTTY);
    assert_int_equal(info.capacity, 0);
    d.set_config(asyncdev::Config{std::chrono::milliseconds(1), {}, 4, 0}, ec);
    assert_int_equal(ec.value(), ENOTTY);
    (void)d.stats(ec);
    assert_int_equal(ec.value(), ENOTTY);
    d.flush(ec);
    assert_int_equal(ec.value(), ENOTTY);
    (void)d.fault(ec);
    assert_int_equal(ec.value(), ENOTTY);
    d.set_fault({asyncdev::FaultMode::next, EIO, 1}, ec);
    assert_int_equal(ec.value(), ENOTTY);
    d.reset_stats(ec);
    assert_int_equal(ec.value(), ENOTTY);
    (void)d.config(ec);
    assert_int_equal(ec.value(), ENOTTY);
}

static void test_closed_device_is_ebadf(void**)
{
    asyncdev::Device d(make_tmpfile());
    d.close();
    assert_false(d.is_open());
    std::error_code ec;
    (void)d.info(ec);
    assert_int_equal(ec.value(), EBADF);
    assert_string_equal(what_of([&] { d.flush(); }, EBADF).c_str(),
                        with_strerror("ioctl(ASYNCDEV_IOC_FLUSH)", EBADF).c_str());
}

static void test_release_transfers_ownership(void**)
{
    asyncdev::Device d(make_tmpfile());
    const int raw = d.fd();
    asyncdev::UniqueFd fd = d.release();
    assert_false(d.is_open());
    assert_int_equal(fd.get(), raw);
    assert_true(::fcntl(raw, F_GETFD) >= 0); // still open, now owned by fd
}

int main()
{
    test::filter_from_env();
    const CMUnitTest tests[] = {
        cmocka_unit_test(test_open_missing_path_names_it),
        cmocka_unit_test(test_every_ioctl_on_regular_file_is_enotty),
        cmocka_unit_test(test_error_code_overloads_do_not_throw),
        cmocka_unit_test(test_closed_device_is_ebadf),
        cmocka_unit_test(test_release_transfers_ownership),
    };
    return cmocka_run_group_tests_name("device_errors", tests, nullptr, nullptr);
}
