import pytest

from fluxserve.storage.base import check_content_type, content_type_for, validate_key

BAD_KEYS = [
    "",
    "../secret.png",
    "outputs/../../secret.png",
    "outputs/./x.png",
    "/etc/passwd",
    "C:/windows/x.png",
    "outputs\\x.png",
    "outputs//x.png",
    "outputs/",
    ".hidden/x.png",
    "outputs/.x.png.tmp",
    "outputs/a b.png",
    "outputs/x.png\x00.txt",
    "outputs/ü.png",
    "a" * 1025,
]


@pytest.mark.parametrize("key", BAD_KEYS)
def test_unsafe_keys_are_refused(key: str) -> None:
    with pytest.raises(ValueError, match=r"storage key"):
        validate_key(key)


@pytest.mark.parametrize(
    "key",
    [
        "outputs/flux-dev_0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b/output-0.png",
        "loras/req_1/pytorch_lora_weights.safetensors",
        "x",
        "a/b/c/d.e.f~g",
    ],
)
def test_ordinary_keys_pass(key: str) -> None:
    assert validate_key(key) == key


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("o/a.png", "image/png"),
        ("o/a.JPG", "image/jpeg"),
        ("o/a.jpeg", "image/jpeg"),
        ("o/a.webp", "image/webp"),
        ("o/config.json", "application/json"),
        ("o/lora.safetensors", "application/octet-stream"),
        ("o/no-extension", "application/octet-stream"),
        ("o.png/noext", "application/octet-stream"),
    ],
)
def test_content_type_follows_the_extension(key: str, expected: str) -> None:
    assert content_type_for(key) == expected


def test_content_type_must_match_the_extension() -> None:
    check_content_type("o/a.png", "image/png")
    check_content_type("o/a.json", "Application/JSON; charset=utf-8")
    with pytest.raises(ValueError, match=r"does not match storage key 'o/a\.png'"):
        check_content_type("o/a.png", "image/jpeg")
