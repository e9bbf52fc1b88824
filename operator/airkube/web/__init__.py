"""The web server: a JSON API under ``/api/v1`` (shaped like Kubernetes paths, with its
OpenAPI document) and server-rendered pages (Jinja2, vendored htmx) to watch DAGs and
runs live, read task logs, and trigger and manage runs.

It uses api, core, store, kube and logstore, never controller. Modules:

- reading: ``data`` (the small interfaces it reads the cluster and the metadata database
  through, and their real implementations), ``models`` (the response models), ``service``
  (the views computed from them), ``views`` (the graph, a run's Gantt and events, a try's
  pod, "why isn't it running?"), ``records`` (the database's records as the CLI reads
  them);
- routes: ``api`` and ``views_api`` (JSON), ``pages``, ``views_pages`` and ``fragments``
  (HTML, and the live blocks of a page);
- live: ``live`` (one shared watch per kind and namespace, fanned out to subscribers) and
  ``streams`` (the server-sent event streams of changes and of a running try's log);
- writing: ``actions`` (trigger, clear, mark, cancel, backfill, pause, each with its
  preview), ``actions_api`` and ``actions_pages`` (their routes and forms), all behind
  ``csrf`` (no cross-site request acts for a user);
- who may: ``security`` (the local server's one-time token, Host and Origin checks),
  ``auth`` and ``incluster`` (the in-cluster server: bearer tokens, SelfSubjectReview, a
  service per user, the SubjectAccessReview gate, the login page), ``context`` (how a
  request finds its service and user);
- ``app`` (:func:`create_app`, which puts them together) and ``serving`` (uvicorn).
"""
