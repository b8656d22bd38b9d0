import pytest

from tests.content_fixture import ContentFolder


@pytest.fixture
def content(tmp_path):
    return ContentFolder(tmp_path)


@pytest.fixture
def check(runner, content):
    """Run `content check` over the fixture tree; returns (exit code, output lines)."""

    def run():
        result = runner.invoke(args=["content", "check", "--path", str(content.folder)])
        return result.exit_code, result.output.splitlines()

    return run
