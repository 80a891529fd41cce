"""`python -m api`: serve the API with uvicorn on TEMPOLINE_API_HOST:TEMPOLINE_API_PORT."""

import uvicorn

from api.app import create_app
from core import logging, startup
from core.settings import get_settings


def main() -> None:
    settings = get_settings()
    logging.configure("api", settings.log_level)
    app = create_app(settings)
    startup.over()
    uvicorn.run(
        app,
        host=settings.api_host,
        port=settings.api_port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=5,
    )


if __name__ == "__main__":
    main()
