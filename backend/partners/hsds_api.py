"""Open Referral HSDS 3.0 interchange (placeholder: being built)."""

from backend.common.schemas import ApiBlueprint

blp = ApiBlueprint("hsds", __name__, url_prefix="/api/v1/hsds", description="HSDS 3.0 export and import")
public_blp = ApiBlueprint("hsds_api", __name__, url_prefix="/hsds", description="HSDS 3.0 read-only API")
