"""The study team's web console: accounts, referrals and their workflow, served by Starlette.

``create_app(store, settings)`` builds the ASGI application; ``server.serve_web`` runs it with
uvicorn (``python -m bot web``, or beside the bot when WEB_PORT is set).
"""
