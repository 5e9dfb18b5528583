"""`is_under` and `folder_prefixes`: the one rule for "is this path in that folder"."""

from __future__ import annotations

import pytest

from photo_tagger.paths import folder_prefixes, is_under


@pytest.mark.parametrize(("path", "folder"), [
    ("/photos", "/photos"),                    # the folder itself
    ("/photos", "/photos/"),                   # ... named with a trailing slash
    ("/photos/a.jpg", "/photos"),
    ("/photos/a.jpg", "/photos/"),
    ("/photos/2024/b/c.jpg", "/photos"),       # any depth
    ("/photos\\a.jpg", "/photos"),             # either separator
    ("C:\\Photos\\a.jpg", "C:\\Photos"),       # Windows paths
    ("C:\\Photos\\a.jpg", "C:\\Photos\\"),
    ("C:\\Photos", "C:\\Photos\\"),
    ("C:\\a.jpg", "C:\\"),                     # a drive's root
    ("/a.jpg", "/"),                           # the root
    ("/", "/"),
])
def test_inside(path: str, folder: str) -> None:
    assert is_under(path, folder)


@pytest.mark.parametrize(("path", "folder"), [
    ("/photos2/a.jpg", "/photos"),             # a sibling sharing the name's start
    ("/photos2", "/photos"),
    ("/photos2", "/photos/"),
    ("/photo", "/photos"),                     # the parent's name cut short
    ("/other/photos/a.jpg", "/photos"),        # the name deeper elsewhere
    ("/", "/photos"),                          # a parent is not inside its child
    ("C:\\Photos2\\a.jpg", "C:\\Photos"),
    ("D:\\Photos\\a.jpg", "C:\\Photos"),
])
def test_outside(path: str, folder: str) -> None:
    assert not is_under(path, folder)


def test_prefixes_are_the_two_separators_of_equal_length() -> None:
    """SQL compares `substr(path, 1, n)` with both: they must be as long as each other."""
    assert folder_prefixes("/photos") == ("/photos/", "/photos\\")
    assert folder_prefixes("/photos/") == ("/photos/", "/photos\\")
    assert folder_prefixes("C:\\Photos\\") == ("C:\\Photos/", "C:\\Photos\\")
    for folder in ("/photos", "/photos//", "C:\\"):
        slash, backslash = folder_prefixes(folder)
        assert len(slash) == len(backslash)
