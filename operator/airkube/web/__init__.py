"""The web server: a JSON API under ``/api/v1`` (shaped like Kubernetes paths, with its
OpenAPI document) and server-rendered pages (Jinja2, vendored htmx) to watch DAGs and
runs and read task logs.

It uses api, core, store, kube and logstore, never controller. Modules: ``data`` (the
small interfaces it reads the cluster and the metadata database through, and their real
implementations), ``models`` (the response models), ``service`` (the views computed from
them, shared by the API and the pages), ``api`` (the JSON routes), ``pages`` (the HTML
routes), ``security`` (the local server's one-time token, Host and Origin checks) and
``app`` (:func:`create_app`, which puts them together). ``views`` (the graph, a run's
Gantt and events, a try's pod, "why isn't it running?"), with its routes in
``views_api`` and ``views_pages``.
"""
