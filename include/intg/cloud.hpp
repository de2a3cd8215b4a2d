// intg cloud storage: the object_store concept, the bounded XML reader that the stores' answers
// go through, and AWS web identity credentials (STS answers in XML) (an optional part: <intg/intg.hpp> does not include it; link intg::cloud, which adds
// Debian's expat). The stores themselves: <intg/providers/s3.hpp>, <intg/providers/azure_blob.hpp>,
// <intg/providers/gcs.hpp> (which needs no expat).
#pragma once

#include <intg/cloud/aws_web_identity.hpp>
#include <intg/cloud/object_store.hpp>
#include <intg/rest/xml.hpp>
