"""Clients for the external providers (ServiceTitan today; Google, Speech-to-Text and the LLMs as
their pipelines land). Activities call them to do a pipeline's work; the API calls them to probe a
stored connection. They classify failures into ApplicationErrors and never retry on their own."""
