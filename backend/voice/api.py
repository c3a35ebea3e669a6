"""Warm-line endpoints: the line's hours and settings, a coach's line, calls, masked calls, warm handoffs by
phone, the crisis transfer, voicemail, and the supervisors' live view and figures."""

from flask import Response
from flask.views import MethodView
from flask_jwt_extended import current_user

from backend.api.actions import api_action
from backend.common.pagination import paginate
from backend.common.schemas import ApiBlueprint
from backend.patients.schemas import PatientSchema
from backend.voice import (
    effects,  # noqa: F401 - registers the runner for the commands these views queue
    service,
)
from backend.voice.schemas import (
    AddPartnerSchema,
    CallerToPatientSchema,
    CallLegSchema,
    CallListQuerySchema,
    CallNoteSchema,
    CallSchema,
    HoldSchema,
    LineOverrideSchema,
    LiveSchema,
    MyLineSchema,
    PlaceCallSchema,
    TodaySchema,
    WarmLineSettingsSchema,
    WarmLineStateSchema,
)

blp = ApiBlueprint("voice", __name__, url_prefix="/api/v1", description="The warm line (Twilio Voice)")


@blp.route("/warm-line")
class WarmLine(MethodView):
    @api_action("read", "warm_line")
    @blp.response(200, WarmLineStateSchema)
    def get(self):
        """Open now, the hours (programme time zone), the next opening, and the ringing and voicemail settings."""
        return service.warm_line_state(current_user)

    @api_action("update", "warm_line")
    @blp.arguments(WarmLineSettingsSchema)
    @blp.response(200, WarmLineStateSchema)
    def patch(self, data):
        """Set the hours and rules (supervisors and admins)."""
        return service.update_warm_line(current_user, data)


@blp.route("/warm-line/override")
class WarmLineOverride(MethodView):
    @api_action("override", "warm_line")
    @blp.arguments(LineOverrideSchema)
    @blp.response(200, WarmLineStateSchema)
    def put(self, data):
        """Open now or closed now, optionally until a time; `state: null` follows the hours again."""
        return service.set_override(current_user, data["state"], data["until"])


@blp.route("/warm-line/live")
class WarmLineLive(MethodView):
    @api_action("list", "call")
    @blp.response(200, LiveSchema)
    def get(self):
        """Calls ringing and in progress now, and each on-shift coach's state (supervisors)."""
        return service.live(current_user)


@blp.route("/warm-line/today")
class WarmLineToday(MethodView):
    @api_action("read", "warm_line_figures")
    @blp.response(200, TodaySchema)
    def get(self):
        """Today's figures: answered, missed, voicemails, answer rate, time to answer, per coach (supervisors)."""
        return service.today(current_user)


@blp.route("/me/line")
class MyLine(MethodView):
    @api_action("read", "line")
    @blp.response(200, MyLineSchema)
    def get(self):
        """Whether I take warm-line calls, and the call I am on."""
        return service.my_line(current_user)

    @api_action("update", "line")
    @blp.arguments(MyLineSchema)
    @blp.response(200, MyLineSchema)
    def put(self, data):
        """Take calls, or stop for a break without ending the shift."""
        return service.set_my_line(current_user, data["taking_calls"])


@blp.route("/me/calls")
class MyCalls(MethodView):
    @api_action("list", "call")
    @blp.arguments(CallListQuerySchema, location="query")
    @blp.response(200, CallSchema(many=True))
    def get(self, query):
        """My recent calls, newest first; `missed=true`: missed calls whose callback task is mine."""
        items, headers = paginate(service.my_calls(current_user, query["missed"]), query)
        return service.audit_calls(current_user, items), 200, headers


@blp.route("/patients/<int:patient_id>/calls")
class PatientCalls(MethodView):
    @api_action("list", "call")
    @blp.arguments(CallListQuerySchema, location="query")
    @blp.response(200, CallSchema(many=True))
    def get(self, query, patient_id):
        """The patient's calls, newest first."""
        items, headers = paginate(service.patient_calls(current_user, patient_id), query)
        return service.audit_calls(current_user, items), 200, headers

    @api_action("call", "patient")
    @blp.arguments(PlaceCallSchema)
    @blp.response(201, CallSchema)
    def post(self, data, patient_id):
        """Call the patient from the programme's number: your phone rings first (press 1), then theirs.

        The patient sees the programme's number, never yours. During the patient's quiet hours send
        `confirm_outside_hours: true` (recorded).
        """
        return service.call_patient(current_user, patient_id, data["confirm_outside_hours"]), 201


@blp.route("/calls/<int:call_id>")
class CallItem(MethodView):
    @api_action("read", "call")
    @blp.response(200, CallSchema)
    def get(self, call_id):
        """One call with everyone rung and how each leg ended."""
        return service.read_call(current_user, call_id)

    @api_action("update", "call")
    @blp.arguments(CallNoteSchema)
    @blp.response(200, CallSchema)
    def patch(self, data, call_id):
        """The coach's note after the call (also the note of its contact on the timeline)."""
        return service.note_call(current_user, call_id, data["note"])


@blp.route("/calls/<int:call_id>/participants")
class CallParticipants(MethodView):
    @api_action("add_partner", "call")
    @blp.arguments(AddPartnerSchema)
    @blp.response(201, CallLegSchema)
    def post(self, data, call_id):
        """Bring a partner's point person into the call (three-way warm handoff; consent required)."""
        return service.add_partner(current_user, call_id, data["partner_contact_id"], data["service_id"]), 201


@blp.route("/calls/<int:call_id>/hold")
class CallHold(MethodView):
    @api_action("hold", "call")
    @blp.arguments(HoldSchema)
    @blp.response(200, CallSchema)
    def put(self, data, call_id):
        """Put the patient on hold (while you introduce them to the partner) or take them off it."""
        return service.hold_patient(current_user, call_id, data["on_hold"])


@blp.route("/calls/<int:call_id>/crisis-transfer")
class CallCrisisTransfer(MethodView):
    @api_action("crisis_transfer", "call")
    @blp.response(201, CallLegSchema)
    def post(self, call_id):
        """Bring the programme's crisis line into the call; stay on until it answers."""
        return service.crisis_transfer(current_user, call_id), 201


@blp.route("/calls/<int:call_id>/patient")
class CallerToPatient(MethodView):
    @api_action("create", "patient")
    @blp.arguments(CallerToPatientSchema)
    @blp.response(201, PatientSchema)
    def post(self, data, call_id):
        """Record an unknown caller as a new patient (source warm_line, normal placement and cap rules)."""
        patient = service.caller_to_patient(current_user, call_id, data)
        return patient, 201, {"ETag": patient.etag, "Location": f"/api/v1/patients/{patient.id}"}


@blp.route("/calls/<int:call_id>/voicemail")
class CallVoicemail(MethodView):
    @api_action("play", "voicemail")
    @blp.doc(responses={"200": {"description": "The voicemail's audio",
                                "content": {"audio/mpeg": {"schema": {"type": "string", "format": "binary"}}}}})
    def get(self, call_id):
        """Play the voicemail (fetched from Twilio for you; scoped like the patient and audited)."""
        audio, mimetype = service.voicemail_audio(current_user, call_id)
        return Response(audio, mimetype=mimetype, headers={"Cache-Control": "no-store"})
