// Amazon S3 (and S3-compatible services) as an intg integration: intg::s3::client, its buckets as
// cloud::object_store, multipart uploads and presigned URLs. Needs expat: link -lexpat, or the
// CMake target intg::cloud (or intg::s3).
#pragma once

#include <intg/cloud/object_store.hpp>
#include <intg/providers/s3/answers.hpp>
#include <intg/providers/s3/client.hpp>
#include <intg/providers/s3/provider.hpp>
