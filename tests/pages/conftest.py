"""Page test fixtures: the app on a real port for the browser and the demo."""

import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn

from api.main import create_app
from conveyor.core import temporal_server
from conveyor.core.settings import Settings


@pytest.fixture
def live_server(settings: Settings) -> Iterator[str]:
    """The real app under uvicorn on a free port, in a background thread."""
    port = temporal_server.free_port()
    app = create_app(settings)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, name="live-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(15)
    app.state.conveyor.engine.dispose()
