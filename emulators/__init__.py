"""Local stand-ins for the external provider APIs tempoline talks to.

An independent server: nothing in this package imports the product (``api``, ``store``,
``domain``, ``core``, ...). Each provider lives under its own path prefix, keeps its state in
memory (Google also in a file under ``--data-dir``, so it survives a restart), and shares the
fault-injection and call-recording machinery of :mod:`emulators.gateway`.

Entry points:

* :func:`emulators.app.create_app` -- the ASGI app (Starlette);
* :func:`emulators.runner.run` -- serve it in the foreground (``python -m emulators``);
* :func:`emulators.runner.start_in_thread` -- serve it in a background thread (tests, dev stack).
"""
