// Google Cloud Storage as an intg integration: intg::gcs::client (the JSON API), its buckets as
// cloud::object_store, uploads simple, multipart and resumable (streamed), and access tokens from
// a service account key or the metadata server. Needs no library beyond intg's own.
#pragma once

#include <intg/cloud/object_store.hpp>
#include <intg/providers/gcs/answers.hpp>
#include <intg/providers/gcs/client.hpp>
#include <intg/providers/gcs/provider.hpp>
