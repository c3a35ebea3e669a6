"""Controlled vocabularies for partner services (codes are stable; labels are for people)."""

SERVICE_TYPES = {
    "detox": "Detox / withdrawal management",
    "residential": "Residential treatment",
    "intensive_outpatient": "Intensive outpatient (IOP)",
    "outpatient_moud": "Outpatient with MOUD",
    "opioid_treatment_program": "Methadone / opioid treatment programme (OTP)",
    "harm_reduction": "Harm reduction",
    "counselling": "Counselling",
    "behavioral_health": "Behavioural health",
    "psychiatric_inpatient": "Psychiatric inpatient",
    "faith_based_recovery": "Faith-based recovery",
    "recovery_housing": "Recovery housing",
}
PAYERS = {
    "medicaid": "Medicaid",
    "medicare": "Medicare",
    "private": "Private insurance",
    "uninsured": "Uninsured / self-pay",
    "sliding_scale": "Sliding scale",
    "va": "VA",
    "tricare": "TRICARE",
    "state_funded": "State-funded",
}
MOUD = {"buprenorphine": "Buprenorphine", "methadone": "Methadone", "naltrexone": "Naltrexone"}
CAPACITY_UNITS = {"bed": "Bed", "slot": "Intake slot", "appointment": "Appointment"}
ATTRIBUTE_KINDS = {"service_type": SERVICE_TYPES, "payer": PAYERS, "moud": MOUD}
