// Uring setup errors (issue 13, item 12): the throwing constructor and the
// std::error_code form report the same errno.
#include "test_util.h"

#include <asyncdev/uring.h>

#include <stdexcept>
#include <thread>

using namespace test;

// More entries than io_uring accepts (IORING_MAX_ENTRIES, 32768): EINVAL.
constexpr unsigned too_deep = 1u << 20;

static void test_create_reports_error_code(void**)
{
    asyncdev::Loop loop;
    std::error_code ec = std::make_error_code(std::errc::io_error); // overwritten
    std::unique_ptr<asyncdev::Uring> io = asyncdev::Uring::create(loop, too_deep, ec);
    assert_null(io.get());
    assert_int_equal(ec.value(), EINVAL);
    assert_true(ec.category() == std::system_category());
}

static void test_create_succeeds_and_clears_error_code(void**)
{
    asyncdev::Loop loop;
    std::error_code ec = std::make_error_code(std::errc::io_error);
    std::unique_ptr<asyncdev::Uring> io = asyncdev::Uring::create(loop, 8, ec);
    assert_non_null(io.get());
    assert_false(static_cast<bool>(ec));
    assert_int_equal(io->depth(), 8);
    asyncdev::UniqueFd f = make_tmpfile();
    ssize_t res = -1;
    io->write(f.get(), bytes("created"), 0, [&](ssize_t r) { res = r; });
    io->submit();
    assert_true(run_until(loop, [&] { return res >= 0; }));
    assert_int_equal(res, 7);
}

static void test_constructor_throws_the_same_error(void**)
{
    asyncdev::Loop loop;
    try {
        asyncdev::Uring io(loop, too_deep);
        fail_msg("constructed with depth %u", too_deep);
    } catch (const std::system_error& e) {
        assert_int_equal(e.code().value(), EINVAL);
        assert_non_null(std::strstr(e.what(), "io_uring_queue_init"));
    }
}

static void test_create_off_loop_thread_is_a_logic_error(void**)
{
    asyncdev::Loop loop;
    bool thrown = false;
    std::thread t([&] {
        std::error_code ec;
        try {
            (void)asyncdev::Uring::create(loop, 8, ec);
        } catch (const std::logic_error&) {
            thrown = true;
        }
    });
    t.join();
    assert_true(thrown);
}

int main()
{
    test::filter_from_env();
    const CMUnitTest tests[] = {
        cmocka_unit_test(test_create_reports_error_code),
        cmocka_unit_test(test_create_succeeds_and_clears_error_code),
        cmocka_unit_test(test_constructor_throws_the_same_error),
        cmocka_unit_test(test_create_off_loop_thread_is_a_logic_error),
    };
    return cmocka_run_group_tests_name("uring_setup", tests, nullptr, nullptr);
}
