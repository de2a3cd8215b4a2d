// Azure Blob Storage as an intg integration: intg::azure_blob::client, its containers as
// cloud::object_store, block blobs streamed as staged blocks, and SAS URLs. Needs expat: link
// -lexpat, or the CMake target intg::cloud.
#pragma once

#include <intg/cloud/object_store.hpp>
#include <intg/providers/azure_blob/answers.hpp>
#include <intg/providers/azure_blob/client.hpp>
#include <intg/providers/azure_blob/provider.hpp>
