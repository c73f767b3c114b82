import pytest

from chronoq.core.sizes import megabytes, parse_size

MIB = 2**20


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("500MB", 500 * MIB),
        ("1GB", 2**30),
        ("800M", 800 * MIB),
        ("512MiB", 512 * MIB),
        ("512mib", 512 * MIB),
        ("1.5g", 3 * 2**29),
        ("64k", 64 * 1024),
        ("2KiB", 2048),
        ("1TB", 2**40),
        ("4096", 4096),
        ("100B", 100),
        (" 5 MB ", 5 * MIB),
        (".5M", MIB // 2),
    ],
)
def test_sizes_are_binary_units(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "MB", "abc", "5XB", "100iB", "100BB", "-5MB", "1e3", "5 M B"])
def test_a_bad_size_is_one_line_naming_it(text: str) -> None:
    with pytest.raises(ValueError, match=r"^invalid size .*1MB = 2\^20 bytes\)$") as raised:
        parse_size(text)
    assert repr(text) in str(raised.value) and "\n" not in str(raised.value)


@pytest.mark.parametrize("text", ["0", "0MB", "0.1"])
def test_a_size_is_at_least_one_byte(text: str) -> None:
    with pytest.raises(ValueError, match="must be at least 1 byte"):
        parse_size(text)


def test_megabytes_for_log_lines() -> None:
    assert megabytes(500 * MIB) == "500"
    assert megabytes(3 * MIB // 2) == "1.5"
